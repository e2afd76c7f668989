// The 1998 LeNet-5 trained by SDLM, one pattern per update, a whole chunk of patterns per
// call (LeCun, Bottou, Bengio, Haffner 1998). For each pattern of the chunk, in order:
//
//   forward   C1-S2-C3-S4-C5-F6, each followed by the squash f(a) = A tanh(S a) (Eq. 6,
//             Appendix A), then the Euclidean RBF penalties y_i = sum_j (x_j - w_ij)^2 (Eq. 7)
//   criterion MSE (Eq. 8): E = y_D, or MAP (Eq. 9): E = y_D + log(e^-j + sum_i e^-y_i)
//   backward  dE/dw_k for every trainable parameter, back-propagated layer by layer
//   update    w_k <- w_k - eps_k dE/dw_k, eps_k = eta / (mu + h_kk)   (SDLM, Appendix C)
//
// The step sizes eps_k come from the caller (lenet5.train.sdlm computes h_kk once per pass,
// as the paper re-estimates it before each pass); this file only applies them. Each
// pattern's update is complete before the next pattern's forward pass: the same sequence of
// updates as the Paddle path (lenet5.train.step), without a framework call per pattern.
//
// Nothing here names a layer size, the C3 table or the squash's A and S: the caller passes
// them as the Python model (lenet5.models.lenet1998) has them, and the parameters as one
// float32 buffer in the model's own order and shapes:
//
//   c1.weight [m1,1,k,k]  c1.bias [m1]   s2.coefficient [m1]  s2.bias [m1]
//   c3.weight [m3,m1,k,k] c3.bias [m3]   s4.coefficient [m3]  s4.bias [m3]
//   c5.weight [u5,m3,k,k] c5.bias [u5]   f6.weight [u5,u6] (Paddle's Linear: [in, out])  f6.bias [u6]
//
// The step sizes are one buffer in the same layout. C3 weights outside the table are never
// read or written (in the Paddle model they are masked: their gradient is exactly zero).
//
// Plain C ABI, no Paddle: loaded with ctypes (lenet5.kernels.sdlm_step). Single-threaded: the
// patterns are sequential, and one pattern is too small to share between cores.
// Convolutions go through im2col so that every inner loop runs over a contiguous row that
// the compiler vectorises; the squash uses glibc's vector tanhf (libmvec).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

// Declared as a SIMD function so that `#pragma omp simd` loops call libmvec's vector tanhf
// (glibc >= 2.35; glibc only declares it this way under -ffast-math, which we do not use).
extern "C" float tanhf(float) noexcept __attribute__((simd("notinbranch")));

namespace {

// ---- sizes and where each parameter lives in the flat buffers ------------------------------

struct Layout {
  int n0, k, w;        // input side, kernel side, subsampling window side
  int m1, n1, n2;      // C1/S2 maps; C1 side; S2 side
  int m3, n3, n4;      // C3/S4 maps; C3 side; S4 side (= k: C5 sees the whole map, 1x1 output)
  int u5, u6, classes; // C5 units, F6 units, RBF outputs
  float A, S;          // the squash f(a) = A tanh(S a)
  size_t c1w, c1b, s2c, s2b, c3w, c3b, s4c, s4b, c5w, c5b, f6w, f6b, total;
};

// dims = {input side, kernel side, window side, C1 maps, C3 maps, C5 units, F6 units, classes}
bool make_layout(const int32_t* dims, Layout* L) {
  L->n0 = dims[0]; L->k = dims[1]; L->w = dims[2];
  L->m1 = dims[3]; L->m3 = dims[4]; L->u5 = dims[5]; L->u6 = dims[6]; L->classes = dims[7];
  for (int i = 0; i < 8; ++i) if (dims[i] <= 0) return false;
  L->n1 = L->n0 - L->k + 1;
  if (L->n1 <= 0 || L->n1 % L->w) return false;
  L->n2 = L->n1 / L->w;
  L->n3 = L->n2 - L->k + 1;
  if (L->n3 <= 0 || L->n3 % L->w) return false;
  L->n4 = L->n3 / L->w;
  if (L->n4 != L->k) return false;
  const size_t kk = size_t(L->k) * L->k;
  size_t at = 0;
  auto take = [&at](size_t n) { size_t start = at; at += n; return start; };
  L->c1w = take(L->m1 * kk);          L->c1b = take(L->m1);
  L->s2c = take(L->m1);               L->s2b = take(L->m1);
  L->c3w = take(L->m3 * L->m1 * kk);  L->c3b = take(L->m3);
  L->s4c = take(L->m3);               L->s4b = take(L->m3);
  L->c5w = take(L->u5 * L->m3 * kk);  L->c5b = take(L->u5);
  L->f6w = take(size_t(L->u5) * L->u6); L->f6b = take(L->u6);
  L->total = at;
  return true;
}

// ---- vector helpers ---------------------------------------------------------------------
//
// Everything below is a few kinds of loop over contiguous rows of floats. The two that carry
// almost all the arithmetic keep their running sums in registers:
//   add_weighted_rows  out += sum_r w[r] row[r]       (forward convolutions, F6, C5's dE/dx)
//   dots               out[r] = a . row[r]              (weight gradients, C5 and F6 forward)

// Eight floats as one value (GCC/Clang vector extension: one AVX register, or two SSE ones),
// read from and written to any float address.
typedef float v8 __attribute__((vector_size(32), aligned(4), may_alias));
inline v8 load8(const float* p) { return *reinterpret_cast<const v8*>(p); }
inline void store8(float* p, v8 v) { *reinterpret_cast<v8*>(p) = v; }
inline float sum8(v8 v) { return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])); }

// 0 in the first eight lanes, 1 in the last eight: load8(kTailMask + m) is 1 in the last m
// lanes only.
constexpr float kTailMask[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};

// out[i] += sum_r weight[r] * row[r][i] for i < n. Blocks of 32 outputs stay in registers while
// every row is added (two rows per step, in two sets of running sums, so that consecutive
// additions do not wait on each other), and each output is read and written once. A last
// partial block is done as the 8 outputs ending at n, from their values before this call:
// outputs it shares with the block before get the same value again.
void add_weighted_rows(float* out, int n, const float* weight, const float* const* row, int rows) {
  if (n < 8) {
    for (int i = 0; i < n; ++i)
      for (int r = 0; r < rows; ++r) out[i] += weight[r] * row[r][i];
    return;
  }
  const v8 last_before = load8(out + n - 8);
  int i = 0;
  for (; i + 32 <= n; i += 32) {
    v8 s0 = load8(out + i), s1 = load8(out + i + 8), s2 = load8(out + i + 16), s3 = load8(out + i + 24);
    v8 t0 = {}, t1 = {}, t2 = {}, t3 = {};
    int r = 0;
    for (; r + 2 <= rows; r += 2) {
      const float w = weight[r], *x = row[r] + i, v = weight[r + 1], *z = row[r + 1] + i;
      s0 += w * load8(x), s1 += w * load8(x + 8), s2 += w * load8(x + 16), s3 += w * load8(x + 24);
      t0 += v * load8(z), t1 += v * load8(z + 8), t2 += v * load8(z + 16), t3 += v * load8(z + 24);
    }
    if (r < rows) {
      const float w = weight[r], *x = row[r] + i;
      s0 += w * load8(x), s1 += w * load8(x + 8), s2 += w * load8(x + 16), s3 += w * load8(x + 24);
    }
    store8(out + i, s0 + t0), store8(out + i + 8, s1 + t1), store8(out + i + 16, s2 + t2), store8(out + i + 24, s3 + t3);
  }
  for (; i < n; i += 8) {
    const int at = i + 8 <= n ? i : n - 8;
    v8 s0 = at == i ? load8(out + at) : last_before;
    for (int r = 0; r < rows; ++r) s0 += weight[r] * load8(row[r] + at);
    store8(out + at, s0);
  }
}

// out[r] = sum_i a[i] row[r][i] for i < n, four rows at a time: a is loaded once for the four,
// and the four running sums do not wait on each other. A last partial block is done as the 8
// elements ending at n, with the lanes already counted multiplied by 0.
void dots(const float* a, int n, const float* const* row, int rows, float* out) {
  if (n < 8) {
    for (int r = 0; r < rows; ++r) {
      float s = 0.0f;
      for (int i = 0; i < n; ++i) s += a[i] * row[r][i];
      out[r] = s;
    }
    return;
  }
  const int full = n - n % 8;
  const v8 tail = load8(kTailMask + n % 8) * load8(a + n - 8);  // a's last n % 8 elements, 0 before
  int r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float *b0 = row[r], *b1 = row[r + 1], *b2 = row[r + 2], *b3 = row[r + 3];
    v8 s0 = tail * load8(b0 + n - 8), s1 = tail * load8(b1 + n - 8);
    v8 s2 = tail * load8(b2 + n - 8), s3 = tail * load8(b3 + n - 8);
    for (int i = 0; i < full; i += 8) {
      const v8 x = load8(a + i);
      s0 += x * load8(b0 + i), s1 += x * load8(b1 + i), s2 += x * load8(b2 + i), s3 += x * load8(b3 + i);
    }
    out[r] = sum8(s0), out[r + 1] = sum8(s1), out[r + 2] = sum8(s2), out[r + 3] = sum8(s3);
  }
  for (; r < rows; ++r) {
    v8 s0 = tail * load8(row[r] + n - 8), s1 = {};
    int i = 0;
    for (; i + 16 <= full; i += 16) s0 += load8(a + i) * load8(row[r] + i), s1 += load8(a + i + 8) * load8(row[r] + i + 8);
    if (i < full) s0 += load8(a + i) * load8(row[r] + i);
    out[r] = sum8(s0 + s1);
  }
}

inline float total(const float* a, int n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; ++i) s += a[i];
  return s;
}

// v <- f(v) = A tanh(S v)
inline void squash(float* v, int n, float A, float S) {
#pragma omp simd
  for (int i = 0; i < n; ++i) v[i] = A * tanhf(S * v[i]);
}

// d <- d * f'(a), with f'(a) = A S (1 - tanh^2(S a)) = (S / A) (A^2 - f(a)^2) taken from the
// unit's output x = f(a), so the pre-activations need not be kept.
inline void times_slope(float* d, const float* x, int n, float A, float S) {
  const float ratio = S / A, square = A * A;
#pragma omp simd
  for (int i = 0; i < n; ++i) d[i] *= ratio * (square - x[i] * x[i]);
}

// cols[(c*k + ky)*k + kx][y*out + x] = in[c][(y + ky)*side + x + kx]: each kernel tap's view
// of the input as one contiguous row, so a convolution is a sum of rows scaled by weights.
void im2col(const float* in, int channels, int side, int k, float* cols) {
  const int out = side - k + 1;
  for (int c = 0; c < channels; ++c)
    for (int ky = 0; ky < k; ++ky)
      for (int kx = 0; kx < k; ++kx) {
        float* row = cols + (size_t(c * k + ky) * k + kx) * out * out;
        for (int y = 0; y < out; ++y) {
          const float* src = in + (size_t(c) * side + y + ky) * side + kx;
          for (int x = 0; x < out; ++x) row[y * out + x] = src[x];
        }
      }
}

// The transpose of one im2col row: in[(y + ky)*side + x + kx] += row[y*out + x] (one channel).
void col2im_add_row(const float* row, int side, int k, int ky, int kx, float* in) {
  const int out = side - k + 1;
  for (int y = 0; y < out; ++y) {
    float* dst = in + size_t(y + ky) * side + kx;
    for (int x = 0; x < out; ++x) dst[x] += row[y * out + x];
  }
}

// S2/S4 forward: sums[m][Y*half + X] = the w x w block's sum; out = f(coef[m] * sum + bias[m]).
void subsample_forward(const float* in, int maps, int side, int w, const float* coef, const float* bias,
                       float A, float S, float* sums, float* out) {
  const int half = side / w;
  for (int m = 0; m < maps; ++m)
    for (int Y = 0; Y < half; ++Y) {
      float* s = sums + (size_t(m) * half + Y) * half;
      float* a = out + (size_t(m) * half + Y) * half;
      for (int X = 0; X < half; ++X) s[X] = 0.0f;
      for (int i = 0; i < w; ++i) {
        const float* row = in + (size_t(m) * side + w * Y + i) * side;
        for (int X = 0; X < half; ++X)
          for (int j = 0; j < w; ++j) s[X] += row[w * X + j];
      }
      for (int X = 0; X < half; ++X) a[X] = coef[m] * s[X] + bias[m];
    }
  squash(out, maps * half * half, A, S);
}

// S2/S4 backward, given d = dE/da of the layer's units: dE/dx of its inputs (each input
// belongs to one block: coef[m] * d of that block), then the update of coef and bias.
// dE/dcoef[m] sums d * block sum over the map (the coefficient is shared by its units).
void subsample_backward(const float* d, const float* sums, int maps, int side, int w, float* coef,
                        float* bias, const float* coef_step, const float* bias_step, float* d_in) {
  const int half = side / w, units = half * half;
  for (int m = 0; m < maps; ++m) {
    const float* dm = d + size_t(m) * units;
    for (int Y = 0; Y < half; ++Y)
      for (int i = 0; i < w; ++i) {
        float* row = d_in + (size_t(m) * side + w * Y + i) * side;
        for (int X = 0; X < half; ++X)
          for (int j = 0; j < w; ++j) row[w * X + j] = coef[m] * dm[Y * half + X];
      }
    const float* block_sums = sums + size_t(m) * units;
    float g_coef;
    dots(dm, units, &block_sums, 1, &g_coef);
    const float g_bias = total(dm, units);
    coef[m] -= coef_step[m] * g_coef;
    bias[m] -= bias_step[m] * g_bias;
  }
}

// Everything one pattern needs, allocated once per call: the layers' outputs and dE/dx, and
// the lists of rows each sum runs over (built here from the C3 table, so the table is not
// consulted inside the sums).
struct Work {
  std::vector<float> cols1, x1, sum2, x2, cols3, x3, sum4, x4, x5, x6;  // forward
  std::vector<float> d6, dx5, dx4, dx3, dtap, dx2, dx1;                   // backward
  std::vector<std::vector<int>> c3_inputs;   // per C3 map: the S2 maps it reads (Table I)
  std::vector<std::vector<int>> c3_readers;  // per S2 map: the C3 maps that read it
  std::vector<const float*> c1_taps;         // cols1's rows: the input under each C1 tap
  std::vector<const float*> c5_rows, f6_rows;  // C5's weights per unit; F6's per input
  std::vector<const float*> rows;            // scratch list of rows for one sum ...
  std::vector<float> weights, grads;         // ... with their weights, or their dot products

  Work(const Layout& L, const uint8_t* table, const float* params) {
    const size_t kk = size_t(L.k) * L.k, p1 = size_t(L.n1) * L.n1, p2 = size_t(L.n2) * L.n2;
    const size_t p3 = size_t(L.n3) * L.n3, p4 = size_t(L.n4) * L.n4;
    cols1.resize(kk * p1); x1.resize(L.m1 * p1); sum2.resize(L.m1 * p2); x2.resize(L.m1 * p2);
    cols3.resize(L.m1 * kk * p3); x3.resize(L.m3 * p3); sum4.resize(L.m3 * p4); x4.resize(L.m3 * p4);
    x5.resize(L.u5); x6.resize(L.u6);
    d6.resize(L.u6); dx5.resize(L.u5); dx4.resize(L.m3 * p4); dx3.resize(L.m3 * p3);
    dtap.resize(p3); dx2.resize(L.m1 * p2); dx1.resize(L.m1 * p1);
    c3_inputs.resize(L.m3);
    c3_readers.resize(L.m1);
    for (int o = 0; o < L.m3; ++o)
      for (int c = 0; c < L.m1; ++c)
        if (table[o * L.m1 + c]) c3_inputs[o].push_back(c), c3_readers[c].push_back(o);
    for (size_t t = 0; t < kk; ++t) c1_taps.push_back(cols1.data() + t * p1);
    for (int u = 0; u < L.u5; ++u) c5_rows.push_back(params + L.c5w + u * L.m3 * kk);
    for (int i = 0; i < L.u5; ++i) f6_rows.push_back(params + L.f6w + size_t(i) * L.u6);
    const size_t longest = std::max<size_t>(L.m1 * kk, std::max(L.m3, L.u5));
    rows.resize(longest);
    weights.resize(longest);
    grads.resize(longest);
  }
};

inline void fill(float* v, int n, float value) {
  for (int i = 0; i < n; ++i) v[i] = value;
}

// One pattern: forward, criterion, backward, update. Returns E; *answer = argmin_i y_i.
float train_pattern(const Layout& L, const float* rbf, float* P, const float* eps, const float* input, int label,
                    int criterion, float map_j, Work& W, int* answer) {
  const int k = L.k, kk = k * k;
  const int p1 = L.n1 * L.n1, p2 = L.n2 * L.n2, p3 = L.n3 * L.n3, p4 = L.n4 * L.n4, q5 = L.m3 * p4;
  float *w1 = P + L.c1w, *b1 = P + L.c1b, *w3 = P + L.c3w, *b3 = P + L.c3b;
  float *w5 = P + L.c5w, *b5 = P + L.c5b, *w6 = P + L.f6w, *b6 = P + L.f6b;
  const float** rows = W.rows.data();
  float *weights = W.weights.data(), *grads = W.grads.data();

  // ---- forward ----
  // C1: x1[m] = f(b1[m] + sum_t w1[m][t] * (the input under tap t))
  im2col(input, 1, L.n0, k, W.cols1.data());
  for (int m = 0; m < L.m1; ++m) {
    float* a = W.x1.data() + size_t(m) * p1;
    fill(a, p1, b1[m]);
    add_weighted_rows(a, p1, w1 + m * kk, W.c1_taps.data(), kk);
  }
  squash(W.x1.data(), L.m1 * p1, L.A, L.S);
  // S2
  subsample_forward(W.x1.data(), L.m1, L.n1, L.w, P + L.s2c, P + L.s2b, L.A, L.S, W.sum2.data(),
                    W.x2.data());
  // C3: map o sums the taps of the S2 maps it reads (Table I)
  im2col(W.x2.data(), L.m1, L.n2, k, W.cols3.data());
  for (int o = 0; o < L.m3; ++o) {
    int count = 0;
    for (int c : W.c3_inputs[o])
      for (int t = 0; t < kk; ++t, ++count) {
        rows[count] = W.cols3.data() + size_t(c * kk + t) * p3;
        weights[count] = w3[(o * L.m1 + c) * kk + t];
      }
    float* a = W.x3.data() + size_t(o) * p3;
    fill(a, p3, b3[o]);
    add_weighted_rows(a, p3, weights, rows, count);
  }
  squash(W.x3.data(), L.m3 * p3, L.A, L.S);
  // S4
  subsample_forward(W.x3.data(), L.m3, L.n3, L.w, P + L.s4c, P + L.s4b, L.A, L.S, W.sum4.data(),
                    W.x4.data());
  // C5: its kernels cover the whole S4 maps, so each unit is a dot product with all of S4
  dots(W.x4.data(), q5, W.c5_rows.data(), L.u5, W.x5.data());
  for (int u = 0; u < L.u5; ++u) W.x5[u] += b5[u];
  squash(W.x5.data(), L.u5, L.A, L.S);
  // F6: x6 = f(b6 + sum_i x5_i W6[i]), W6 stored [in, out]
  std::memcpy(W.x6.data(), b6, L.u6 * sizeof(float));
  add_weighted_rows(W.x6.data(), L.u6, W.x5.data(), W.f6_rows.data(), L.u5);
  squash(W.x6.data(), L.u6, L.A, L.S);
  // RBF penalties (Eq. 7): the squared distance of F6's output to each class's bitmap
  double y[64];  // classes <= 64 (checked by the caller)
  int best = 0;
  for (int c = 0; c < L.classes; ++c) {
    const float* r = rbf + size_t(c) * L.u6;
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int j = 0; j < L.u6; ++j) s += (W.x6[j] - r[j]) * (W.x6[j] - r[j]);
    y[c] = s;
    if (y[c] < y[best]) best = c;
  }
  *answer = best;

  // ---- criterion and dE/dy_i ----
  double g[64], E;
  if (criterion == 0) {  // MSE (Eq. 8): E = y_D
    for (int c = 0; c < L.classes; ++c) g[c] = c == label ? 1.0 : 0.0;
    E = y[label];
  } else {  // MAP (Eq. 9): E = y_D + log(e^-j + sum_i e^-y_i); dE/dy_i = [i = D] - e^-y_i / (e^-j + sum e^-y)
    double top = -map_j;
    for (int c = 0; c < L.classes; ++c) top = std::fmax(top, -y[c]);
    double z = std::exp(-map_j - top);
    for (int c = 0; c < L.classes; ++c) z += std::exp(-y[c] - top);
    const double log_z = top + std::log(z);
    for (int c = 0; c < L.classes; ++c) g[c] = (c == label ? 1.0 : 0.0) - std::exp(-y[c] - log_z);
    E = y[label] + log_z;
  }

  // ---- backward and update; each layer's dE/dx is taken before its own weights move ----
  // RBF: dE/dx6_j = sum_i dE/dy_i 2 (x6_j - r_ij); then through F6's squash
  fill(W.d6.data(), L.u6, 0.0f);
  for (int c = 0; c < L.classes; ++c) {
    const float gc = float(2.0 * g[c]);
    const float* r = rbf + size_t(c) * L.u6;
#pragma omp simd
    for (int j = 0; j < L.u6; ++j) W.d6[j] += gc * (W.x6[j] - r[j]);
  }
  times_slope(W.d6.data(), W.x6.data(), L.u6, L.A, L.S);
  // F6: dE/dx5_i = W6[i] . dE/da6; dE/dW6[i][o] = x5_i dE/da6_o
  dots(W.d6.data(), L.u6, W.f6_rows.data(), L.u5, W.dx5.data());
  for (int i = 0; i < L.u5; ++i) {
    float* wi = w6 + size_t(i) * L.u6;
    const float *ei = eps + L.f6w + size_t(i) * L.u6, xi = W.x5[i], *d6 = W.d6.data();
#pragma omp simd
    for (int o = 0; o < L.u6; ++o) wi[o] -= ei[o] * (xi * d6[o]);
  }
  for (int o = 0; o < L.u6; ++o) b6[o] -= eps[L.f6b + o] * W.d6[o];
  times_slope(W.dx5.data(), W.x5.data(), L.u5, L.A, L.S);  // now dE/da5
  // C5: dE/dx4 = sum_u dE/da5_u W5[u]; dE/dW5[u] = dE/da5_u x4
  fill(W.dx4.data(), q5, 0.0f);
  add_weighted_rows(W.dx4.data(), q5, W.dx5.data(), W.c5_rows.data(), L.u5);
  for (int u = 0; u < L.u5; ++u) {
    float* wu = w5 + size_t(u) * q5;
    const float *eu = eps + L.c5w + size_t(u) * q5, du = W.dx5[u], *x4 = W.x4.data();
#pragma omp simd
    for (int q = 0; q < q5; ++q) wu[q] -= eu[q] * (du * x4[q]);
    b5[u] -= eps[L.c5b + u] * du;
  }
  times_slope(W.dx4.data(), W.x4.data(), q5, L.A, L.S);  // dE/da4
  // S4
  subsample_backward(W.dx4.data(), W.sum4.data(), L.m3, L.n3, L.w, P + L.s4c, P + L.s4b, eps + L.s4c,
                     eps + L.s4b, W.dx3.data());
  times_slope(W.dx3.data(), W.x3.data(), L.m3 * p3, L.A, L.S);  // dE/da3
  // C3, dE/dx2: for each tap of each S2 map, the sum over the C3 maps reading it of
  // w * dE/da3 (a row of the transposed convolution), folded back onto the S2 map
  fill(W.dx2.data(), L.m1 * p2, 0.0f);
  for (int c = 0; c < L.m1; ++c)
    for (int t = 0; t < kk; ++t) {
      int count = 0;
      for (int o : W.c3_readers[c]) {
        rows[count] = W.dx3.data() + size_t(o) * p3;
        weights[count++] = w3[(o * L.m1 + c) * kk + t];
      }
      float* tap = W.dtap.data();
      fill(tap, p3, 0.0f);
      add_weighted_rows(tap, p3, weights, rows, count);
      col2im_add_row(tap, L.n2, k, t / k, t % k, W.dx2.data() + size_t(c) * p2);
    }
  // C3, dE/dw: a weight's gradient is dE/da3 of its map dotted with the input row under its tap
  for (int o = 0; o < L.m3; ++o) {
    const float* d = W.dx3.data() + size_t(o) * p3;
    int count = 0;
    for (int c : W.c3_inputs[o])
      for (int t = 0; t < kk; ++t) rows[count++] = W.cols3.data() + size_t(c * kk + t) * p3;
    dots(d, p3, rows, count, grads);
    count = 0;
    for (int c : W.c3_inputs[o])
      for (int t = 0; t < kk; ++t, ++count) {
        const size_t at = size_t(o * L.m1 + c) * kk + t;
        w3[at] -= eps[L.c3w + at] * grads[count];
      }
    b3[o] -= eps[L.c3b + o] * total(d, p3);
  }
  times_slope(W.dx2.data(), W.x2.data(), L.m1 * p2, L.A, L.S);  // dE/da2
  // S2
  subsample_backward(W.dx2.data(), W.sum2.data(), L.m1, L.n1, L.w, P + L.s2c, P + L.s2b, eps + L.s2c,
                     eps + L.s2b, W.dx1.data());
  times_slope(W.dx1.data(), W.x1.data(), L.m1 * p1, L.A, L.S);  // dE/da1
  // C1: dE/dw1[m][t] = dE/da1[m] . (the input under tap t)
  for (int m = 0; m < L.m1; ++m) {
    const float* d = W.dx1.data() + size_t(m) * p1;
    dots(d, p1, W.c1_taps.data(), kk, grads);
    for (int t = 0; t < kk; ++t) w1[m * kk + t] -= eps[L.c1w + m * kk + t] * grads[t];
    b1[m] -= eps[L.c1b + m] * total(d, p1);
  }
  return float(E);
}

}  // namespace

extern "C" {

// How many floats the parameter buffer holds for these dimensions; 0 if they do not describe
// a LeNet-5 (the caller checks this against the model before training).
int64_t lenet5_sdlm_param_count(const int32_t* dims) {
  Layout L;
  return make_layout(dims, &L) && L.classes <= 64 ? int64_t(L.total) : 0;
}

// Train on patterns inputs[order[0]], ..., inputs[order[count-1]] in that order, one SDLM
// update each. squash: {A, S} of f(a) = A tanh(S a); inputs: [N, n0*n0]; labels: [N];
// table: [m3, m1] of 0/1; rbf: [classes, u6];
// params, steps: the flat buffers described at the top; criterion: 0 = MSE, 1 = MAP.
// Writes each pattern's criterion and answer (before its update) to losses[i], answers[i].
// Returns 0, or -1 for dimensions that are not a LeNet-5.
int lenet5_sdlm_train(const int32_t* dims, const float* squash, const uint8_t* table, const float* rbf, float* params,
                      const float* steps, const float* inputs, const int64_t* labels, const int64_t* order,
                      int64_t count, int32_t criterion, float map_j, float* losses, int32_t* answers) {
  Layout L;
  if (!make_layout(dims, &L) || L.classes > 64) return -1;
  L.A = squash[0], L.S = squash[1];
  Work W(L, table, params);
  const size_t pixels = size_t(L.n0) * L.n0;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t n = order[i];
    int answer = 0;
    losses[i] = train_pattern(L, rbf, params, steps, inputs + n * pixels, int(labels[n]), criterion, map_j, W,
                              &answer);
    answers[i] = answer;
  }
  return 0;
}

}  // extern "C"
