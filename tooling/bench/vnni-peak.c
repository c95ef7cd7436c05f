/* The AVX-512 VNNI peak of this CPU, measured: each of N threads runs a loop of 12 independent
 * vpdpbusd zmm (register operands only, no loads, no dependent chains shorter than 12), 64 int8
 * multiply-adds each = 128 ops, and times itself by its own CPU time (CLOCK_THREAD_CPUTIME_ID), so
 * that time other processes take on a shared machine does not count. Prints the sum of the threads'
 * GOP/s. Built and run by suites/cpu-gemm.mjs: cc -O2 -pthread vnni-peak.c; ./a.out THREADS.
 * (x86-64 with AVX-512 VNNI only.) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const long kIters = 50000000;

static void* spin(void* arg) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
  __asm__ volatile(
      "vpxord %%zmm0,%%zmm0,%%zmm0\n vpxord %%zmm1,%%zmm1,%%zmm1\n vpxord %%zmm2,%%zmm2,%%zmm2\n"
      "vpxord %%zmm3,%%zmm3,%%zmm3\n vpxord %%zmm4,%%zmm4,%%zmm4\n vpxord %%zmm5,%%zmm5,%%zmm5\n"
      "vpxord %%zmm6,%%zmm6,%%zmm6\n vpxord %%zmm7,%%zmm7,%%zmm7\n vpxord %%zmm8,%%zmm8,%%zmm8\n"
      "vpxord %%zmm9,%%zmm9,%%zmm9\n vpxord %%zmm10,%%zmm10,%%zmm10\n vpxord %%zmm11,%%zmm11,%%zmm11\n"
      "mov %0,%%rcx\n"
      "1:\n"
      "vpdpbusd %%zmm30,%%zmm31,%%zmm0\n vpdpbusd %%zmm30,%%zmm31,%%zmm1\n vpdpbusd %%zmm30,%%zmm31,%%zmm2\n"
      "vpdpbusd %%zmm30,%%zmm31,%%zmm3\n vpdpbusd %%zmm30,%%zmm31,%%zmm4\n vpdpbusd %%zmm30,%%zmm31,%%zmm5\n"
      "vpdpbusd %%zmm30,%%zmm31,%%zmm6\n vpdpbusd %%zmm30,%%zmm31,%%zmm7\n vpdpbusd %%zmm30,%%zmm31,%%zmm8\n"
      "vpdpbusd %%zmm30,%%zmm31,%%zmm9\n vpdpbusd %%zmm30,%%zmm31,%%zmm10\n vpdpbusd %%zmm30,%%zmm31,%%zmm11\n"
      "dec %%rcx\n jnz 1b\n"
      :
      : "r"(kIters)
      : "rcx", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11");
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
  *(double*)arg = (double)kIters * 12 * 128 / ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9) / 1e9;
  return NULL;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  if (threads < 1 || threads > 256) return 2;
  pthread_t t[256];
  double gops[256];
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, spin, &gops[i]);
  double sum = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(t[i], NULL);
    sum += gops[i];
  }
  printf("%.1f\n", sum);
  return 0;
}
