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

#define T_EQ_STR(got, want, name)                                            \
    T_CHECK(strcmp((got), (want)) == 0, "%s (got \"%s\", want \"%s\")", (name), (got), (want))
#define T_EQ_INT(got, want, name)                                            \
    T_CHECK((long long)(got) == (long long)(want), "%s (got %lld, want %lld)", (name), \
            (long long)(got), (long long)(want))

/* End of main: prints the summary the runner reads and returns the exit status. */
#define T_DONE()                                                             \
    (printf("# %d passed, %d failed\n", t_passed, t_failed), t_failed ? 1 : 0)

#endif
