/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <qrencode.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qr.h"

static int qr_encode(const char *text, QRcode **ret)
{
	/* Level L keeps a ~300-byte config at a size phone cameras read easily. */
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);

	if (!qr)
		return errno == ERANGE ? -EINVAL : -(errno ? errno : ENOMEM);
	*ret = qr;
	return 0;
}

static void qr_free(QRcode *qr)
{
	if (!qr)
		return;
	sodium_memzero(qr->data, (size_t)qr->width * (size_t)qr->width);
	QRcode_free(qr);
}

/* Is the module at (x, y) of the code with its quiet zone dark? */
static bool qr_dark(const QRcode *qr, int x, int y)
{
	x -= HUBCTL_QR_QUIET;
	y -= HUBCTL_QR_QUIET;
	if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
		return false;
	return qr->data[y * qr->width + x] & 1;
}

int hubctl_qr_write_ansi(const char *text, FILE *f)
{
	/* Indexed by (top dark) << 1 | (bottom dark); the foreground draws light modules. */
	static const char *const cell[4] = {"\u2588", "\u2580", "\u2584", " "};
	QRcode *qr = NULL;
	int size, r = qr_encode(text, &qr);

	if (r < 0)
		return r;
	size = qr->width + 2 * HUBCTL_QR_QUIET;
	for (int y = 0; y < size; y += 2) {
		fputs("\033[97;40m", f);
		for (int x = 0; x < size; x++)
			fputs(cell[qr_dark(qr, x, y) << 1 | qr_dark(qr, x, y + 1)], f);
		fputs("\033[0m\n", f);
	}
	qr_free(qr);
	return ferror(f) ? -EIO : 0;
}

static void qr_png_rows(png_structp png, const QRcode *qr, png_bytep row, int size)
{
	for (int y = 0; y < size * HUBCTL_QR_MODULE; y++) {
		for (int x = 0; x < size * HUBCTL_QR_MODULE; x++)
			row[x] = qr_dark(qr, x / HUBCTL_QR_MODULE, y / HUBCTL_QR_MODULE) ? 0 : 255;
		png_write_row(png, row);
	}
}

int hubctl_qr_write_png(const char *text, FILE *f)
{
	QRcode *qr = NULL;
	png_structp png = NULL;
	png_infop info = NULL;
	png_bytep row = NULL;
	int size, r = qr_encode(text, &qr);

	if (r < 0)
		return r;
	size = qr->width + 2 * HUBCTL_QR_QUIET;
	r = -ENOMEM;
	row = calloc((size_t)size, HUBCTL_QR_MODULE);
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	info = png ? png_create_info_struct(png) : NULL;
	if (!row || !info)
		goto out;
	/* libpng reports errors by longjmp; everything below is freed at out. */
	if (setjmp(png_jmpbuf(png))) {
		r = -EIO;
		goto out;
	}
	png_init_io(png, f);
	png_set_IHDR(png, info, (png_uint_32)(size * HUBCTL_QR_MODULE),
		     (png_uint_32)(size * HUBCTL_QR_MODULE), 8, PNG_COLOR_TYPE_GRAY,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	qr_png_rows(png, qr, row, size);
	png_write_end(png, NULL);
	r = fflush(f) == 0 ? 0 : -errno;
out:
	if (png)
		png_destroy_write_struct(&png, info ? &info : NULL);
	free(row);
	qr_free(qr);
	return r;
}

int hubctl_qr_write_png_file(const char *text, const char *path)
{
	/*
	 * A new file only: one that exists (or a symlink) may be held open, or be
	 * readable, by whoever made it, and the code holds a private key.
	 */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	FILE *f;
	int r;

	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		close(fd);
		unlink(path);
		return r;
	}
	r = hubctl_qr_write_png(text, f);
	if (r >= 0 && fsync(fileno(f)) < 0)
		r = -errno;
	if (fclose(f) != 0 && r >= 0)
		r = -errno;
	if (r < 0)
		unlink(path);
	return r;
}
