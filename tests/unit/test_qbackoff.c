/* test_qbackoff: the retry schedule QUEUE_BACKOFF (queue/qbackoff.c) */
#include "t.h"
#include "queue/qbackoff.h"

#include <stdint.h>

struct case_ {
    const char *name;
    const char *s;
    size_t n;
    unsigned long step[4];      /* the first steps expected */
};

static void test_parse(void)
{
    static const struct case_ cases[] = {
        {"default when unset", NULL, 5, {60, 300, 900, 1800}},
        {"default when empty", "", 5, {60, 300, 900, 1800}},
        {"default when no number", "soon", 5, {60, 300, 900, 1800}},
        {"one step", "2", 1, {2}},
        {"three steps", "1,1,2", 3, {1, 1, 2}},
        {"zero is one second", "0,5", 2, {1, 5}},
        {"ends at a non-number", "5,10x,20", 2, {5, 10}},
        {"trailing comma", "5,", 1, {5}},
        {"20 digits cut to the longest step", "99999999999999999999", 1, {QBACKOFF_STEP_MAX}},
        {"a sign is no way round it", "60,-1", 2, {60, QBACKOFF_STEP_MAX}},
        {"the longest step itself", "2592000", 1, {2592000}},
        {"one over it", "2592001", 1, {QBACKOFF_STEP_MAX}},
    };
    size_t i, k;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct qbackoff b;
        qbackoff_parse(&b, cases[i].s);
        T_EQ_INT(b.n, cases[i].n, cases[i].name);
        for (k = 0; k < cases[i].n && k < 4; k++) {
            T_EQ_INT(b.step[k], cases[i].step[k], cases[i].name);
        }
    }
}

static void test_bounds(void)
{
    char s[200];
    struct qbackoff b;
    size_t k, len = 0;
    for (k = 0; k < QBACKOFF_STEPS_MAX + 4; k++) {
        s[len++] = (char)('1' + k % 9);
        s[len++] = ',';
    }
    s[len - 1] = '\0';
    qbackoff_parse(&b, s);
    T_EQ_INT(b.n, QBACKOFF_STEPS_MAX, "at most QBACKOFF_STEPS_MAX steps");

    qbackoff_parse(&b, "10,20,30");
    T_EQ_INT(qbackoff_step(&b, 0), 10, "count 0: the first step");
    T_EQ_INT(qbackoff_step(&b, 1), 10, "one try: the first step");
    T_EQ_INT(qbackoff_step(&b, 3), 30, "three tries: the third");
    T_EQ_INT(qbackoff_step(&b, 4), 30, "past the end: the last repeats");
    T_EQ_INT(qbackoff_step(&b, UINT32_MAX), 30, "the most rounds a mark holds");

    T_EQ_INT(qbackoff_cut(432000), 432000, "a time in bounds stays");
    T_EQ_INT(qbackoff_cut(0), 0, "0 stays (never, none)");
    T_EQ_INT(qbackoff_cut(9223372036854775808UL), QBACKOFF_STEP_MAX,
             "2^63 is cut, not negative as a time_t");

    qbackoff_parse(&b, "18446744073709551616");
    T_CHECK(qbackoff_step(&b, 1) > 0, "a step past ULONG_MAX is positive time");
}

int main(void)
{
    test_parse();
    test_bounds();
    return T_DONE();
}
