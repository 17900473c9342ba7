/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Key helpers: base64 of 32-byte keys, and Curve25519 keys on libsodium. */
#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "hubd/wgnl.h"

/* sodium_init() is idempotent and thread-safe; each entry point that needs
 * the RNG or the curve calls it so callers need not remember. */
static int ensure_sodium(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

/*
 * Base64 of keys, written out rather than left to sodium_bin2base64 and
 * sodium_base642bin: those handle any length, variant and ignored characters,
 * and cost about 3,400 instructions a key, half of all the user time of
 * parsing a 50,000-peer config. Keys are secret, so both directions stay
 * constant-time: no branch and no table lookup depends on a key's bits; the
 * ranges are selected with masks made from the sign of a subtraction.
 */

/* All ones when lo <= c <= hi, else 0; c, lo and hi are in 0..255. */
static unsigned in_range(int c, int lo, int hi)
{
	return ((unsigned)((c - lo) | (hi - c)) >> 31) - 1u;
}

/* The base64 digit of v (0..63): 'A' + v, shifted past each range it passes. */
static char b64_digit(int v)
{
	int d = 'A' + v;

	d += (int)(~in_range(v, 0, 25) & 6u);  /* 26..51: 'a'.. */
	d -= (int)(~in_range(v, 0, 51) & 75u); /* 52..61: '0'.. */
	d -= (int)(~in_range(v, 0, 61) & 15u); /* 62: '+' */
	d += (int)(~in_range(v, 0, 62) & 3u);  /* 63: '/' */
	return (char)d;
}

/* The value of base64 digit c, or -1 if c is not one. */
static int b64_value(unsigned char c)
{
	unsigned v = (in_range(c, 'A', 'Z') & (c - 'A' + 1u)) |
		     (in_range(c, 'a', 'z') & (c - 'a' + 27u)) |
		     (in_range(c, '0', '9') & (c - '0' + 53u)) | (in_range(c, '+', '+') & 63u) |
		     (in_range(c, '/', '/') & 64u);

	return (int)v - 1;
}

void wgnl_key_to_base64(char out[WGNL_KEY_B64_LEN + 1], const wgnl_key key)
{
	/* 10 groups of 3 bytes into 4 digits, then 2 bytes into 3 digits and '='. */
	for (int i = 0; i < 10; i++) {
		const uint8_t *k = key + 3 * i;
		uint32_t w = (uint32_t)k[0] << 16 | (uint32_t)k[1] << 8 | k[2];

		for (int j = 0; j < 4; j++)
			out[4 * i + j] = b64_digit((int)(w >> (18 - 6 * j)) & 63);
	}
	out[40] = b64_digit(key[30] >> 2);
	out[41] = b64_digit((key[30] & 3) << 4 | key[31] >> 4);
	out[42] = b64_digit((key[31] & 15) << 2);
	out[43] = '=';
	out[44] = '\0';
}

int wgnl_key_from_base64(wgnl_key key, const char *b64)
{
	const unsigned char *s = (const unsigned char *)b64;
	uint8_t tmp[WGNL_KEY_LEN];
	uint32_t w = 0;
	int bad = 0;

	if (!b64 || strnlen(b64, WGNL_KEY_B64_LEN + 1) != WGNL_KEY_B64_LEN ||
	    b64[WGNL_KEY_B64_LEN - 1] != '=')
		return -EINVAL;
	for (int i = 0; i < WGNL_KEY_B64_LEN - 1; i++) {
		int v = b64_value(s[i]);

		bad |= v; /* negative once any digit is invalid */
		w = w << 6 | ((unsigned)v & 63u);
		if (i % 4 == 3) {
			tmp[3 * (i / 4)] = (uint8_t)(w >> 16);
			tmp[3 * (i / 4) + 1] = (uint8_t)(w >> 8);
			tmp[3 * (i / 4) + 2] = (uint8_t)w;
		}
	}
	/* 3 digits left, 18 bits: 2 bytes and 2 padding bits that must be zero,
	 * so that each key has one spelling only, as wg(8) accepts. */
	tmp[30] = (uint8_t)(w >> 10);
	tmp[31] = (uint8_t)(w >> 2);
	bad |= -(int)(w & 3);
	if (bad >= 0)
		memcpy(key, tmp, WGNL_KEY_LEN);
	sodium_memzero(tmp, sizeof(tmp));
	sodium_memzero(&w, sizeof(w));
	return bad < 0 ? -EINVAL : 0;
}

int wgnl_key_generate_private(wgnl_key key)
{
	int r = ensure_sodium();

	if (r < 0)
		return r;
	randombytes_buf(key, WGNL_KEY_LEN);
	/* Clamp as Curve25519 expects, so the stored key is the one used. */
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
	return 0;
}

void wgnl_key_public_from_private(wgnl_key pub, const wgnl_key priv)
{
	/* crypto_scalarmult_curve25519_base clamps a copy of the scalar itself.
	 * It only fails for a result of all zeroes, impossible from the base
	 * point; the zeroed output then still signals it. */
	if (ensure_sodium() < 0 || crypto_scalarmult_curve25519_base(pub, priv) != 0)
		memset(pub, 0, WGNL_KEY_LEN);
}

bool wgnl_key_is_zero(const wgnl_key key)
{
	return sodium_is_zero(key, WGNL_KEY_LEN);
}

void wgnl_key_wipe(wgnl_key key)
{
	sodium_memzero(key, WGNL_KEY_LEN);
}
