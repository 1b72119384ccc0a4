// Filesystem calls Swift's Glibc module does not expose: btrfs subvolume ioctls and the
// filesystem type of a path.
#ifndef BK_FS_H
#define BK_FS_H

// statfs f_type of path, or -1 with errno set.
long bk_fs_type(const char *path);

// Magic numbers for bk_fs_type.
#define BK_BTRFS_MAGIC 0x9123683EL

// Creates an empty subvolume parent_dir/name. 0, or -1 with errno.
int bk_btrfs_subvol_create(const char *parent_dir, const char *name);

// Snapshots the subvolume src as parent_dir/name (writable unless readonly). 0, or -1 with errno.
int bk_btrfs_snapshot(const char *src, const char *parent_dir, const char *name, int readonly);

// Deletes the subvolume parent_dir/name (must be empty of nested subvolumes). 0, or -1 with errno.
int bk_btrfs_subvol_delete(const char *parent_dir, const char *name);

// 1 when path is the root of a btrfs subvolume (inode 256), 0 otherwise.
int bk_btrfs_is_subvolume(const char *path);

// An overlay of `lowers` (n paths, topmost first), `upper` and `work` as a detached mount
// (fsopen/fsconfig/fsmount: attached nowhere, in no mount namespace; it goes away with its
// last fd). Returns an fd of the mount's root (O_PATH-like, usable as a dirfd), or -1 with
// errno set and a message in err.
int bk_overlay_detached(const char *const *lowers, int n, const char *upper, const char *work,
                        char *err, unsigned long errlen);

// A detached copy (open_tree OPEN_TREE_CLONE) of the directory `dir`, its last component not
// a symlink: a mount tree of its own that bk_attach_in_tree can add to. The fd, or -1, errno.
int bk_tree_clone(const char *dir);

// Attaches a detached recursive copy of the host path `source` (nodev, nosuid, read-only if
// asked) at the absolute path `dest` inside the detached tree whose root is `treefd` (from
// bk_overlay_detached or bk_tree_clone). `dest` is walked a component at a time from that
// root and through no symlink; missing mount points are created (a directory, or an empty
// file for a file source), as a container start creates them. The new mount is part of the
// tree: it goes when the tree's last fd closes, and is never visible in any mount namespace.
// 0, or -1 with errno and a message in err.
int bk_attach_in_tree(int treefd, const char *source, const char *dest, int readonly,
                      char *err, unsigned long errlen);

#endif
