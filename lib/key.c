/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Key helpers: base64 of 32-byte keys and Curve25519 keys, on libsodium. */
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

void wgnl_key_to_base64(char out[WGNL_KEY_B64_LEN + 1], const wgnl_key key)
{
	sodium_bin2base64(out, WGNL_KEY_B64_LEN + 1, key, WGNL_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
}

int wgnl_key_from_base64(wgnl_key key, const char *b64)
{
	uint8_t tmp[WGNL_KEY_LEN];
	size_t len = 0;
	const char *end = NULL;
	int r = 0;

	if (!b64 || strnlen(b64, WGNL_KEY_B64_LEN + 1) != WGNL_KEY_B64_LEN ||
	    b64[WGNL_KEY_B64_LEN - 1] != '=')
		return -EINVAL;
	/* libsodium rejects non-zero padding bits, so only the one canonical
	 * spelling of each key is accepted, as wg(8) does. */
	if (sodium_base642bin(tmp, sizeof(tmp), b64, WGNL_KEY_B64_LEN, NULL, &len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != WGNL_KEY_LEN || end != b64 + WGNL_KEY_B64_LEN)
		r = -EINVAL;
	else
		memcpy(key, tmp, WGNL_KEY_LEN);
	sodium_memzero(tmp, sizeof(tmp));
	return r;
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
