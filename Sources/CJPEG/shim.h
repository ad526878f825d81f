// libjpeg-turbo's libjpeg API, for what the TurboJPEG API of Debian 12 (2.1) cannot do: decode a
// band of a frame's rows. libjpeg reports errors by longjmp, which Swift cannot catch, so the
// decode lives here, in C, and returns a status and the library's message.
#pragma once
#include <stdio.h>
#include <setjmp.h>
#include <string.h>
#include <jpeglib.h>

/// Room for libjpeg's message (JMSG_LENGTH_MAX).
#define FOVEAL_JPEG_MESSAGE 200

struct foveal_jpeg_error {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char message[FOVEAL_JPEG_MESSAGE];
};

static void foveal_jpeg_fail(j_common_ptr info) {
    struct foveal_jpeg_error *error = (struct foveal_jpeg_error *)info->err;
    (*info->err->format_message)(info, error->message);
    longjmp(error->jump, 1);
}

/// Warnings fail as errors do (TurboJPEG's TJFLAG_STOPONWARNING): a truncated frame otherwise
/// "decodes" with grey rows at the bottom.
static void foveal_jpeg_message(j_common_ptr info, int level) {
    if (level < 0) foveal_jpeg_fail(info);
}

/// Decodes rows first ..< first + count of a `width` x `height` JPEG into `out` (count rows of
/// width * 3 bytes of RGB), as TurboJPEG's tjDecompress2 would (accurate integer IDCT, fancy
/// upsampling). The rows above are skipped: their entropy-coded data is read, their IDCT and
/// colour conversion are not. 0 on success; -1 with `message` filled on a corrupt stream or
/// one whose size is not the one given.
static inline int foveal_jpeg_decode_rows(const unsigned char *data, unsigned long size, unsigned char *out,
                                          int width, int height, int first, int count, char *message) {
    struct jpeg_decompress_struct info;
    struct foveal_jpeg_error error;
    info.err = jpeg_std_error(&error.manager);
    error.manager.error_exit = foveal_jpeg_fail;
    error.manager.emit_message = foveal_jpeg_message;
    error.message[0] = 0;
    jpeg_create_decompress(&info);
    if (setjmp(error.jump)) {
        memcpy(message, error.message, FOVEAL_JPEG_MESSAGE);
        message[FOVEAL_JPEG_MESSAGE - 1] = 0;
        jpeg_destroy_decompress(&info);
        return -1;
    }
    jpeg_mem_src(&info, (unsigned char *)data, size);
    jpeg_read_header(&info, TRUE);
    info.out_color_space = JCS_RGB;
    jpeg_start_decompress(&info);
    if ((int)info.output_width != width || (int)info.output_height != height || info.output_components != 3
        || first < 0 || count < 0 || first + count > height) {
        snprintf(message, FOVEAL_JPEG_MESSAGE, "a %ux%u frame where %dx%d was expected", info.output_width, info.output_height, width, height);
        jpeg_destroy_decompress(&info);
        return -1;
    }
    if (first > 0) jpeg_skip_scanlines(&info, (JDIMENSION)first);
    while ((int)info.output_scanline < first + count) {
        JSAMPROW row = out + (size_t)((int)info.output_scanline - first) * (size_t)width * 3;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_destroy_decompress(&info);
    return 0;
}
