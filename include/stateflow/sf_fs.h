/* sf_fs.h: file-system helpers shared by the durable parts (the log, its
 * tests, benchmarks and fuzz targets). */
#ifndef SF_FS_H
#define SF_FS_H

/* Remove every entry of the flat directory dir (files only: a
 * subdirectory is left, and then dir too), then dir itself. Returns 0, or
 * -errno of the first failure; a dir that does not exist is 0. */
int sf_fs_remove_dir(const char *dir);

#endif
