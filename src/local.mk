# The daemon.
sbin_PROGRAMS += src/hubd
src_hubd_SOURCES = src/hubd.c
