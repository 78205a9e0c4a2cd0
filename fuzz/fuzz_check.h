/* fuzz_check.h -- the one way a fuzz target reports a broken invariant.
 *
 * FUZZ_CHECK prints what failed and aborts, so libFuzzer (and the replay
 * driver under ctest) records the input as a crash.  It stays on in
 * release builds: an invariant a fuzzer cannot see is no invariant.
 */
#ifndef SMTPSCOPE_FUZZ_CHECK_H
#define SMTPSCOPE_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, ...)                                              \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__,     \
                    __LINE__, #cond);                                      \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
            abort();                                                       \
        }                                                                  \
    } while (0)

#endif
