/*
 * expect.h: the checks of the C test programs (test_abi.c, close_in_callback.c). Each failed
 * check prints where it is, what was expected and flowai_last_error(), and is counted in
 * `failures`; `checks` counts them all. Include it once, in the program's one source file.
 */
#ifndef FLOWAI_EXPECT_H
#define FLOWAI_EXPECT_H

#include <flowai.h>
#include <stdio.h>

static int failures = 0;
static int checks = 0;

/* `call` returns the flowai_result `want`. */
#define EXPECT_CODE(call, want)                                                                \
    do {                                                                                       \
        flowai_result got_ = (call);                                                           \
        checks++;                                                                              \
        if (got_ != (want)) {                                                                  \
            failures++;                                                                        \
            fprintf(stderr, "%s:%d: %s returned %u (%s), expected %s; last error: %s\n",       \
                    __FILE__, __LINE__, #call, (unsigned)got_, flowai_result_str(got_), #want, \
                    flowai_last_error());                                                      \
        }                                                                                      \
    } while (0)

/* `cond` holds. */
#define EXPECT(cond)                                                                           \
    do {                                                                                       \
        checks++;                                                                              \
        if (!(cond)) {                                                                         \
            failures++;                                                                        \
            fprintf(stderr, "%s:%d: expected %s; last error: %s\n", __FILE__, __LINE__, #cond,  \
                    flowai_last_error());                                                      \
        }                                                                                      \
    } while (0)

#endif
