/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * QR codes of a client config (libqrencode), for the WireGuard mobile apps'
 * "scan from QR code". The text holds a private key: the module matrix is
 * wiped before it is freed, and PNG files are created with mode 0600.
 */
#ifndef HUBD_QR_H
#define HUBD_QR_H

#include <stdio.h>

#define HUBCTL_QR_QUIET	 4 /* quiet zone, in modules, as ISO/IEC 18004 asks */
#define HUBCTL_QR_MODULE 8 /* PNG pixels per module */

/*
 * Write text as a QR code for a terminal: two module rows per line with
 * UTF-8 half blocks, colours set explicitly (light modules white on black)
 * so the code reads the same on dark and light terminal themes.
 * Returns 0, -EINVAL when text does not fit a QR code, or -errno.
 */
int hubctl_qr_write_ansi(const char *text, FILE *f);

/*
 * Write text as a greyscale PNG to f, or to path: a new file, mode 0600;
 * -EEXIST when path exists (a symlink too), and nothing left on failure.
 */
int hubctl_qr_write_png(const char *text, FILE *f);
int hubctl_qr_write_png_file(const char *text, const char *path);

#endif
