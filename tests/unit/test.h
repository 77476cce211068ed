/* tests/unit/test.h - the tiny unit-test vocabulary every test_*.c uses.
 *
 * Each test function runs under RUN(); it prints "PASS name" or
 * "FAIL name" (after the failed expectations), and tests/run.sh counts those
 * lines. "SKIP name: reason" for tests that cannot run here.
 * main() ends with `return test_summary();`.
 */
#ifndef BT86_TEST_H
#define BT86_TEST_H
#include <stdio.h>
#include <inttypes.h>

static int test_failures_;
static int test_failed_tests_;

#define EXPECT(c) do { if (!(c)) { printf("  %s:%d: expected %s\n", __FILE__, __LINE__, #c); test_failures_++; } } while (0)
#define EXPECT_EQ(a, b) do { unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b); \
    if (a_ != b_) { printf("  %s:%d: %s == 0x%llx, expected %s == 0x%llx\n", __FILE__, __LINE__, #a, a_, #b, b_); test_failures_++; } } while (0)
#define RUN(fn) do { int f0_ = test_failures_; fn(); \
    if (test_failures_ == f0_) printf("PASS %s\n", #fn); else { printf("FAIL %s\n", #fn); test_failed_tests_++; } \
    fflush(stdout); } while (0)
#define SKIP(fn, why) do { printf("SKIP %s: %s\n", #fn, why); } while (0)

static inline int test_summary(void) { return test_failed_tests_ ? 1 : 0; }
#endif
