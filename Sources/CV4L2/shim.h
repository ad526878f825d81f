// Swift imports neither C variadic functions (v4l2_open, v4l2_ioctl) nor function-like macros
// (VIDIOC_*), so they are wrapped here.
#include <errno.h>
#include <fcntl.h>
#include <libv4l2.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

static inline int foveal_v4l2_open(const char *path, int flags) { return v4l2_open(path, flags); }
#include <stdio.h>
// libv4l2 prints its own complaints to this stream (stderr when NULL).
static inline void foveal_v4l2_silence(void) { v4l2_log_file = fopen("/dev/null", "w"); }
static inline int foveal_raw_ioctl(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }
static inline int foveal_v4l2_ioctl(int fd, unsigned long request, void *arg) { return v4l2_ioctl(fd, request, arg); }

static const unsigned long FOVEAL_VIDIOC_QUERYCAP = VIDIOC_QUERYCAP;
static const unsigned long FOVEAL_VIDIOC_ENUM_FMT = VIDIOC_ENUM_FMT;
static const unsigned long FOVEAL_VIDIOC_ENUM_FRAMESIZES = VIDIOC_ENUM_FRAMESIZES;
static const unsigned long FOVEAL_VIDIOC_ENUM_FRAMEINTERVALS = VIDIOC_ENUM_FRAMEINTERVALS;
static const unsigned long FOVEAL_VIDIOC_S_FMT = VIDIOC_S_FMT;
static const unsigned long FOVEAL_VIDIOC_G_FMT = VIDIOC_G_FMT;
static const unsigned long FOVEAL_VIDIOC_S_PARM = VIDIOC_S_PARM;
static const unsigned long FOVEAL_VIDIOC_G_PARM = VIDIOC_G_PARM;
static const unsigned long FOVEAL_VIDIOC_REQBUFS = VIDIOC_REQBUFS;
static const unsigned long FOVEAL_VIDIOC_QUERYBUF = VIDIOC_QUERYBUF;
static const unsigned long FOVEAL_VIDIOC_QBUF = VIDIOC_QBUF;
static const unsigned long FOVEAL_VIDIOC_DQBUF = VIDIOC_DQBUF;
static const unsigned long FOVEAL_VIDIOC_STREAMON = VIDIOC_STREAMON;
static const unsigned long FOVEAL_VIDIOC_STREAMOFF = VIDIOC_STREAMOFF;
