/* fs.c: file-system helpers (sf_fs.h). */
#include "stateflow/sf_fs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int sf_fs_remove_dir(const char *dir)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return errno == ENOENT ? 0 : -errno;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) {
            if (rc == 0)
                rc = -ENAMETOOLONG;
            continue;
        }
        if (unlink(path) != 0 && rc == 0)
            rc = -errno;
    }
    closedir(dp);
    if (rmdir(dir) != 0 && rc == 0)
        rc = -errno;
    return rc;
}
