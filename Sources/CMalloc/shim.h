// glibc malloc tuning (mallopt), used once at start-up.
#include <malloc.h>
