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
 * sodium_base642bin: those handle any length, variant and ignored character,
 * one character at a time, and made up much of the cost of parsing a large
 * config (bench/README.md has the figures). Keys are secret, so both
 * directions stay constant-time: no branch and no table lookup depends on a
 * key's bits; each character range is selected with a mask made from the sign
 * of a subtraction. The 43 digits are mapped 8 at a time in int16 lanes
 * (GCC/clang vector extensions: SSE2 on x86-64, plain code elsewhere), which
 * makes a key several times cheaper.
 */
typedef int16_t i16x8 __attribute__((vector_size(16)));

#define B64_LANES 48 /* 43 digits, padded with zeroes ('A') to whole vectors */

/* All ones in each lane where lo <= c <= hi, else 0; c, lo, hi in 0..255. */
static i16x8 in_range(i16x8 c, int16_t lo, int16_t hi)
{
	return ~((c - lo) | (hi - c)) >> 15;
}

/* Digit values (0..63) to characters: 'A' + v, shifted past each range. */
static void b64_digits(int16_t v[B64_LANES])
{
	for (int i = 0; i < B64_LANES; i += 8) {
		i16x8 x, d;

		memcpy(&x, v + i, sizeof(x));
		d = x + 'A';
		d += ~in_range(x, 0, 25) & 6;  /* 26..51: 'a'.. */
		d -= ~in_range(x, 0, 51) & 75; /* 52..61: '0'.. */
		d -= ~in_range(x, 0, 61) & 15; /* 62: '+' */
		d += ~in_range(x, 0, 62) & 3;  /* 63: '/' */
		memcpy(v + i, &d, sizeof(d));
	}
}

/* Characters to digit values, -1 for a character that is not a digit. */
static void b64_values(int16_t c[B64_LANES])
{
	for (int i = 0; i < B64_LANES; i += 8) {
		i16x8 x, v;

		memcpy(&x, c + i, sizeof(x));
		v = (in_range(x, 'A', 'Z') & (x - ('A' - 1))) |
		    (in_range(x, 'a', 'z') & (x - ('a' - 27))) |
		    (in_range(x, '0', '9') & (x + (53 - '0'))) | (in_range(x, '+', '+') & 63) |
		    (in_range(x, '/', '/') & 64);
		v -= 1;
		memcpy(c + i, &v, sizeof(v));
	}
}

void wgnl_key_to_base64(char out[WGNL_KEY_B64_LEN + 1], const wgnl_key key)
{
	int16_t v[B64_LANES] = {0};

	/* 10 groups of 3 bytes into 4 digits, then 2 bytes into 3 digits. */
	for (int g = 0; g < 11; g++) {
		uint32_t w = (uint32_t)key[3 * g] << 16 | (uint32_t)key[3 * g + 1] << 8 |
			     (g < 10 ? key[3 * g + 2] : 0);

		for (int j = 0; j < 4; j++)
			v[4 * g + j] = (int16_t)(w >> (18 - 6 * j) & 63);
	}
	b64_digits(v);
	for (int i = 0; i < WGNL_KEY_B64_LEN - 1; i++)
		out[i] = (char)v[i];
	out[WGNL_KEY_B64_LEN - 1] = '=';
	out[WGNL_KEY_B64_LEN] = '\0';
	sodium_memzero(v, sizeof(v));
}

int wgnl_key_from_base64(wgnl_key key, const char *b64)
{
	int16_t v[B64_LANES];
	uint8_t c[B64_LANES], tmp[33];
	int16_t bad = 0;

	if (!b64 || strnlen(b64, WGNL_KEY_B64_LEN + 1) != WGNL_KEY_B64_LEN ||
	    b64[WGNL_KEY_B64_LEN - 1] != '=')
		return -EINVAL;
	/* Padded to whole vectors with 'A' (zero), widened by a plain loop. */
	memset(c, 'A', sizeof(c));
	memcpy(c, b64, WGNL_KEY_B64_LEN - 1);
	for (int i = 0; i < B64_LANES; i++)
		v[i] = c[i];
	b64_values(v);
	for (int i = 0; i < B64_LANES; i++)
		bad |= v[i]; /* negative once any digit is invalid */
	for (int g = 0; g < 11; g++) {
		uint32_t w = (uint32_t)(v[4 * g] & 63) << 18 | (uint32_t)(v[4 * g + 1] & 63) << 12 |
			     (uint32_t)(v[4 * g + 2] & 63) << 6 | (uint32_t)(v[4 * g + 3] & 63);

		tmp[3 * g] = (uint8_t)(w >> 16);
		tmp[3 * g + 1] = (uint8_t)(w >> 8);
		tmp[3 * g + 2] = (uint8_t)w;
	}
	/* The last digit's 2 low bits are padding and must be zero, so that each
	 * key has one spelling only, as wg(8) accepts. */
	bad |= (int16_t)-tmp[32];
	if (bad >= 0)
		memcpy(key, tmp, WGNL_KEY_LEN);
	sodium_memzero(tmp, sizeof(tmp));
	sodium_memzero(v, sizeof(v));
	sodium_memzero(c, sizeof(c));
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
