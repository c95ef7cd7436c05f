// Elementwise ops over strided views (rank <= 4; shapes padded with leading 1s): copies, float16 <->
// float32 casts and GELU read a view and write a packed or strided destination.

struct Dims4 {
  int s0, s1, s2, s3;
};

// The element offset of linear index i of a shape, for the given strides.
// Below 2^31 the index math is done in 32 bits: a 64-bit division is a long software sequence, and
// three of them per element made the strided kernels (gelu of a narrowed view, say) instruction-bound.
__device__ __forceinline__ i64 offsetOf(i64 i, int n1, int n2, int n3, i64 t0, i64 t1, i64 t2, i64 t3) {
  if (i < 0x7fffffffLL) {
    unsigned u = (unsigned)i;
    const unsigned c3 = u % (unsigned)n3;
    u /= (unsigned)n3;
    const unsigned c2 = u % (unsigned)n2;
    u /= (unsigned)n2;
    const unsigned c1 = u % (unsigned)n1;
    const unsigned c0 = u / (unsigned)n1;
    return (i64)c0 * t0 + (i64)c1 * t1 + (i64)c2 * t2 + (i64)c3 * t3;
  }
  const i64 c3 = i % n3;
  i /= n3;
  const i64 c2 = i % n2;
  i /= n2;
  const i64 c1 = i % n1;
  const i64 c0 = i / n1;
  return c0 * t0 + c1 * t1 + c2 * t2 + c3 * t3;
}

#define GRID_LOOP(i, total) for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (total); i += (i64)gridDim.x * blockDim.x)

// Copies of 1-, 2- and 4-byte elements between two strided views of the same shape.
#define COPY_KERNEL(BITS, T)                                                                                     \
  extern "C" __global__ void copy_b##BITS(const T* __restrict__ src, T* __restrict__ dst, i64 total, int n1,    \
                                          int n2, int n3, i64 a0, i64 a1, i64 a2, i64 a3, i64 b0, i64 b1, i64 b2, \
                                          i64 b3) { PDL_ENTRY();                                                              \
    GRID_LOOP(i, total) dst[offsetOf(i, n1, n2, n3, b0, b1, b2, b3)] = src[offsetOf(i, n1, n2, n3, a0, a1, a2, a3)]; \
  }
COPY_KERNEL(8, unsigned char)
COPY_KERNEL(16, unsigned short)
COPY_KERNEL(32, unsigned int)

// Casts from a strided view into a packed tensor.
#define CAST_KERNEL(NAME, TI, TO)                                                                                 \
  extern "C" __global__ void cast_##NAME(const TI* __restrict__ src, TO* __restrict__ dst, i64 total, int n1,    \
                                         int n2, int n3, i64 a0, i64 a1, i64 a2, i64 a3) { PDL_ENTRY();                        \
    GRID_LOOP(i, total) st(dst, i, ld(src, offsetOf(i, n1, n2, n3, a0, a1, a2, a3)));                             \
  }
CAST_KERNEL(f16_f32, half_t, float)
CAST_KERNEL(f32_f16, float, half_t)

// GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), from a strided view into a packed tensor.
#define GELU_KERNEL(NAME, T)                                                                                      \
  extern "C" __global__ void gelu_##NAME(const T* __restrict__ src, T* __restrict__ dst, i64 total, int n1,      \
                                         int n2, int n3, i64 a0, i64 a1, i64 a2, i64 a3) { PDL_ENTRY();                        \
    GRID_LOOP(i, total) {                                                                                         \
      const float x = ld(src, offsetOf(i, n1, n2, n3, a0, a1, a2, a3));                                           \
      st(dst, i, geluTanh(x));                                                                                    \
    }                                                                                                             \
  }
FOR_FLOAT_TYPES(GELU_KERNEL)

// a + b and a * b over packed tensors, b repeating every nb elements (suffix broadcasting). Below 2^31
// elements the index math is 32-bit (offsetOf's reason): the encoder's position bias + key mask
// ([64, 512, 512] + [512]) took 81 us with a 64-bit i % nb per element.
#define BINARY_LOOP(OP)                                                                                           \
  if (total < 0x7fffffffLL) {                                                                                     \
    const unsigned t = (unsigned)total, m = (unsigned)nb;                                                         \
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < t; i += gridDim.x * blockDim.x)                  \
      st(out, i, ld(a, i) OP ld(b, m == t ? i : i % m));                                                          \
  } else {                                                                                                        \
    GRID_LOOP(i, total) st(out, i, ld(a, i) OP ld(b, nb == total ? i : i % nb));                                  \
  }
#define BINARY_KERNEL(NAME, T)                                                                                    \
  extern "C" __global__ void add_##NAME(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out,   \
                                        i64 total, i64 nb) {                                                      \
    PDL_ENTRY();                                                                                                  \
    BINARY_LOOP(+)                                                                                                \
  }                                                                                                               \
  extern "C" __global__ void mul_##NAME(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out,   \
                                        i64 total, i64 nb) {                                                      \
    PDL_ENTRY();                                                                                                  \
    BINARY_LOOP(*)                                                                                                \
  }
FOR_FLOAT_TYPES(BINARY_KERNEL)

// The gated FFN's gelu(in) * gate over y = [in | gate] rows ([rows, 2f] packed) into out [rows, f]: bit
// for bit mul(gelu(y[:, :f]), y[:, f:]) (each op rounding to float16), in one pass. rows * 2f < 2^31.
extern "C" __global__ void gelu_mul_f16(const half_t* __restrict__ y, half_t* __restrict__ out, int rows, int f) { PDL_ENTRY();
  const unsigned total = (unsigned)rows * (unsigned)f;
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const unsigned r = i / (unsigned)f, c = i - r * (unsigned)f;
    const half_t* yr = y + (i64)r * 2 * f;
    const half_t g = f2h(geluTanh(h2f(yr[c])));
    out[i] = f2h(__fmul_rn(h2f(g), h2f(yr[f + c])));
  }
}

// Rows of table [vocab, d] for ids [n]. An id out of range writes zeros and sets *bad to 1 + its
// position (the host reads the flag back and throws, naming it).
#define EMBEDDING_KERNEL(NAME, T)                                                                                 \
  extern "C" __global__ void embedding_##NAME(const int* __restrict__ ids, const T* __restrict__ table,          \
                                              T* __restrict__ out, int n, int d, int vocab, int* bad) { PDL_ENTRY();           \
    const int r = blockIdx.x;                                                                                     \
    const int id = ids[r];                                                                                        \
    const bool ok = id >= 0 && id < vocab;                                                                        \
    if (!ok && threadIdx.x == 0) atomicCAS(bad, 0, r + 1);                                                        \
    for (int c = threadIdx.x; c < d; c += blockDim.x) out[(i64)r * d + c] = ok ? table[(i64)id * d + c] : (T)0;   \
  }
FOR_FLOAT_TYPES(EMBEDDING_KERNEL)
// float16 rows of a multiple of 8 halves, table and out 16-byte aligned: 16-byte copies (a decode step's
// first kernel; 4 096 halves are 2 rounds of loads for 256 threads, not 16).
extern "C" __global__ void embedding_f16v8(const int* __restrict__ ids, const half_t* __restrict__ table, half_t* __restrict__ out,
                                           int n, int d, int vocab, int* bad) {
  PDL_ENTRY();
  const int r = blockIdx.x;
  const int id = ids[r];
  const bool ok = id >= 0 && id < vocab;
  if (!ok && threadIdx.x == 0) atomicCAS(bad, 0, r + 1);
  const u32x4* src = reinterpret_cast<const u32x4*>(table + (i64)(ok ? id : 0) * d);
  u32x4* dst = reinterpret_cast<u32x4*>(out + (i64)r * d);
  for (int c = threadIdx.x; c < (d >> 3); c += blockDim.x) dst[c] = ok ? src[c] : u32x4{0u, 0u, 0u, 0u};
}

// ScoreBias's terms as one bias (Backend.softmax, where a distance or key bias is given): out [lead, rows,
// cols] = dist[b, c - r + rows - 1] (hasDist; dist [lead, rows + cols - 1]) + key[c] (hasKey), summed in
// float32 and rounded to T once.
#define SCORE_BIAS_KERNEL(NAME, T)                                                                                \
  extern "C" __global__ void score_bias_##NAME(const T* __restrict__ dist, int hasDist, const T* __restrict__ key, \
                                               int hasKey, T* __restrict__ out, int lead, int rows, int cols) {    \
    PDL_ENTRY();                                                                                                  \
    GRID_LOOP(e, (i64)lead * rows * cols) {                                                                       \
      const int c = (int)(e % cols);                                                                              \
      const i64 br = e / cols;                                                                                    \
      const int r = (int)(br % rows);                                                                             \
      const i64 b = br / rows;                                                                                    \
      float v = 0.f;                                                                                              \
      if (hasDist) v += ld(dist, b * (rows + cols - 1) + c - r + rows - 1);                                       \
      if (hasKey) v += ld(key, c);                                                                                \
      st(out, e, v);                                                                                              \
    }                                                                                                             \
  }
FOR_FLOAT_TYPES(SCORE_BIAS_KERNEL)

// Random bits for benchmark weights, drawn where they are used (a full-size CPM-2 is ~11 GB: drawn on
// the host in JavaScript that took minutes). A counter-based hash of (seed, index), so any grid gives
// the same values. int8: uniform in [-127, 127]; float16: a random sign and mantissa with the exponent
// bits `exp` (magnitudes in [2^e, 2^(e+1))), as randomCpm2Model draws them on the host.
__device__ __forceinline__ unsigned hashIndex(unsigned long long i, unsigned seed) {
  unsigned long long z = i * 0x9E3779B97F4A7C15ULL + seed * 0xBF58476D1CE4E5B9ULL + 1;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (unsigned)(z ^ (z >> 31));
}
extern "C" __global__ void random_i8(signed char* __restrict__ dst, i64 n, unsigned seed) { PDL_ENTRY();
  GRID_LOOP(i, n) dst[i] = (signed char)((int)(hashIndex(i, seed) % 255u) - 127);
}
extern "C" __global__ void random_f16(half_t* __restrict__ dst, i64 n, unsigned seed, int exp) { PDL_ENTRY();
  GRID_LOOP(i, n) {
    const unsigned r = hashIndex(i, seed);
    dst[i] = (half_t)((r & 0x8000u) | (unsigned)exp | ((r >> 16) & 0x3ffu));
  }
}
