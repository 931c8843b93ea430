/* t.h: the tiny assert header of our C unit tests. Each check prints one line; the runner
   counts "ok"/"FAIL" lines. Use T_CHECK(cond, name) inside a table-driven loop. */
#ifndef YUBIN_T_H
#define YUBIN_T_H

#include <stdio.h>
#include <string.h>

static int t_failed;
static int t_passed;

#define T_CHECK(cond, ...)                                                   \
    do {                                                                     \
        if (cond) {                                                          \
            t_passed++;                                                      \
            printf("ok ");                                                   \
        } else {                                                             \
            t_failed++;                                                      \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                      \
        }                                                                    \
        printf(__VA_ARGS__);                                                 \
        printf("\n");                                                        \
    } while (0)

/* Each argument is evaluated once. */
#define T_EQ_STR(got, want, name)                                            \
    do {                                                                     \
        const char *t_g_ = (got), *t_w_ = (want);                            \
        T_CHECK(strcmp(t_g_, t_w_) == 0, "%s (got \"%s\", want \"%s\")", (name), t_g_, t_w_); \
    } while (0)
#define T_EQ_INT(got, want, name)                                            \
    do {                                                                     \
        long long t_g_ = (long long)(got), t_w_ = (long long)(want);         \
        T_CHECK(t_g_ == t_w_, "%s (got %lld, want %lld)", (name), t_g_, t_w_); \
    } while (0)

/* End of main: prints the summary the runner reads and returns the exit status. */
#define T_DONE()                                                             \
    (printf("# %d passed, %d failed\n", t_passed, t_failed), t_failed ? 1 : 0)

#endif
