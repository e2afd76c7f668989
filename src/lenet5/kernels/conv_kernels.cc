// CPU convolutions for LeNet's layers: stride 1, no padding, float32, NCHW.
//   lenet5_conv_pool_relu    y = relu(max_pool_2x2(conv(x, W)) + b)     (the seed net's blocks)
//   lenet5_conv_bias_squash  y = A tanh(S (conv(x, W) + b))               (LeNet-5's C1, C3, C5)
//   lenet5_subsample_squash  y = A tanh(S (coef * sum_2x2(x) + bias))     (LeNet-5's S2, S4)
//
// Why they exist: Paddle 3.3.1's CPU conv2d runs an im2col + GEMM per image through
// MKLML's sgemm, which on this project's AMD machines runs at a quarter to a third of the
// speed of oneDNN's sgemm (libdnnl.so.3, shipped inside the same Paddle wheel) on the same
// shapes (bench/gemm_backends.py, docs/results.md). These ops keep Paddle's algorithm
// (im2col + GEMM per image), call oneDNN instead, spread the images of a batch over the
// cores with OpenMP, and fuse what follows each convolution. They are only used for eager
// training and evaluation on the CPU; exported models contain Paddle's own ops.
//
// Convolution forward  y[n] = W . col(x[n])             W: [O, C*K*K], col: [C*K*K, OH*OW]
// Backward             dW = sum_n dconv[n] . col(x[n])^T   (one partial sum per thread, then added)
//                      dx[n] = col2im(W^T . dconv[n])      (only when the input needs a gradient)
// where dconv is the gradient at the convolution's output, each op's epilogue undone.

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "paddle/extension.h"

// glibc's vector maths library has a 4-lane tanhf since 2.35 (an SSE entry point that picks
// the widest implementation the CPU has); the scalar std::tanh was most of LeNet-5's step.
#if defined(__x86_64__) && defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#include <immintrin.h>
extern "C" __m128 _ZGVbN4v_tanhf(__m128);
#define LENET5_VECTOR_TANH 1
#endif

extern "C" int dnnl_sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha,
                          const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                          int64_t ldc);

namespace {

struct Geometry {
  int64_t batch, channels, height, width, outputs, kernel, out_h, out_w;
  int64_t patch() const { return channels * kernel * kernel; }
  int64_t positions() const { return out_h * out_w; }
  int64_t image_size() const { return channels * height * width; }
};

Geometry geometry_of(const paddle::Tensor& x, const paddle::Tensor& w) {
  const auto xs = x.shape();
  const auto ws = w.shape();
  PD_CHECK(xs.size() == 4 && ws.size() == 4, "lenet5 convolution expects 4-D input and weight");
  PD_CHECK(xs[1] == ws[1], "lenet5 convolution: input channels ", xs[1], " != weight channels ", ws[1]);
  PD_CHECK(ws[2] == ws[3], "lenet5 convolution expects square kernels");
  PD_CHECK(x.dtype() == paddle::DataType::FLOAT32 && w.dtype() == paddle::DataType::FLOAT32,
           "lenet5 convolution is float32 only");
  return {xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], xs[2] - ws[2] + 1, xs[3] - ws[3] + 1};
}

// Rows of col are (channel, ki, kj); columns are output positions (oh, ow).
void im2col(const Geometry& g, const float* image, float* col) {
  for (int64_t c = 0; c < g.channels; ++c)
    for (int64_t ki = 0; ki < g.kernel; ++ki)
      for (int64_t kj = 0; kj < g.kernel; ++kj) {
        float* row = col + ((c * g.kernel + ki) * g.kernel + kj) * g.positions();
        const float* plane = image + c * g.height * g.width;
        for (int64_t oh = 0; oh < g.out_h; ++oh)
          std::copy_n(plane + (oh + ki) * g.width + kj, g.out_w, row + oh * g.out_w);
      }
}

void col2im_add(const Geometry& g, const float* col, float* image) {
  std::fill_n(image, g.channels * g.height * g.width, 0.0f);
  for (int64_t c = 0; c < g.channels; ++c)
    for (int64_t ki = 0; ki < g.kernel; ++ki)
      for (int64_t kj = 0; kj < g.kernel; ++kj) {
        const float* row = col + ((c * g.kernel + ki) * g.kernel + kj) * g.positions();
        float* plane = image + c * g.height * g.width;
        for (int64_t oh = 0; oh < g.out_h; ++oh) {
          float* dst = plane + (oh + ki) * g.width + kj;
          const float* src = row + oh * g.out_w;
          for (int64_t ow = 0; ow < g.out_w; ++ow) dst[ow] += src[ow];
        }
      }
}

int thread_count(int64_t requested, int64_t batch) {
  const int64_t wanted = requested > 0 ? requested : omp_get_num_procs();
  return static_cast<int>(std::max<int64_t>(1, std::min(wanted, batch)));
}

void conv_image(const Geometry& g, const float* image, const float* w, float* col, float* out) {
  im2col(g, image, col);
  dnnl_sgemm('N', 'N', g.outputs, g.positions(), g.patch(), 1.0f, w, g.patch(), col, g.positions(), 0.0f, out,
             g.positions());
}

// dW_partial += dconv . col^T, and dx = col2im(W^T . dconv) when asked.
void conv_image_backward(const Geometry& g, const float* image, const float* w, const float* dconv, float* col,
                         float* dcol, float* dw_partial, float* dx) {
  im2col(g, image, col);
  dnnl_sgemm('N', 'T', g.outputs, g.patch(), g.positions(), 1.0f, dconv, g.positions(), col, g.positions(), 1.0f,
             dw_partial, g.patch());
  if (dx != nullptr) {
    dnnl_sgemm('T', 'N', g.patch(), g.positions(), g.outputs, 1.0f, w, g.patch(), dconv, g.positions(), 0.0f, dcol,
               g.positions());
    col2im_add(g, dcol, dx);
  }
}

// Adds the threads' partial gradients in a fixed order, so the result does not depend on
// which thread finished first.
void reduce_partials(const std::vector<float>& partial, int team, int64_t size, float* out) {
  std::copy_n(partial.data(), size, out);
  for (int t = 1; t < team; ++t)
    for (int64_t i = 0; i < size; ++i) out[i] += partial[t * size + i];
}

paddle::Tensor new_tensor(const std::vector<int64_t>& shape) {
  return paddle::empty(shape, paddle::DataType::FLOAT32, paddle::CPUPlace());
}

// Forward over a batch: image n is convolved into `destination(n)` (or a per-thread scratch
// buffer where that is null), then `epilogue(n, conv)` turns the convolution into the op's output.
template <typename Destination, typename Epilogue>
void conv_forward(const Geometry& g, const paddle::Tensor& x, const paddle::Tensor& w, int64_t threads,
                  Destination destination, Epilogue epilogue) {
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
#pragma omp parallel num_threads(thread_count(threads, g.batch))
  {
    std::vector<float> col(g.patch() * g.positions());
    std::vector<float> scratch;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n) {
      float* conv = destination(n);
      if (conv == nullptr) {
        scratch.resize(g.outputs * g.positions());
        conv = scratch.data();
      }
      conv_image(g, xd + n * g.image_size(), wd, col.data(), conv);
      epilogue(n, conv);
    }
  }
}

// Backward over a batch. `upstream(n, buffer, bias_grad)` writes the gradient at the
// convolution's output for image n into `buffer` (each op undoing its own epilogue) and
// adds that image's bias gradient into `bias_grad`. Returns {dx, dW, db}.
template <typename Upstream>
std::vector<paddle::Tensor> conv_backward(const Geometry& g, const paddle::Tensor& x, const paddle::Tensor& w,
                                          int64_t threads, bool input_grad, Upstream upstream) {
  auto dx = new_tensor(x.shape());
  auto dw = new_tensor(w.shape());
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  float* dxd = dx.data<float>();
  const int64_t weight_size = g.outputs * g.patch();
  const int64_t partial_size = weight_size + g.outputs;
  const int team = thread_count(threads, g.batch);
  std::vector<float> partial(static_cast<size_t>(team) * partial_size, 0.0f);
#pragma omp parallel num_threads(team)
  {
    std::vector<float> col(g.patch() * g.positions());
    std::vector<float> dcol(input_grad ? g.patch() * g.positions() : 0);
    std::vector<float> buffer(g.outputs * g.positions());
    float* mine = partial.data() + static_cast<int64_t>(omp_get_thread_num()) * partial_size;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n) {
      upstream(n, buffer.data(), mine + weight_size);
      conv_image_backward(g, xd + n * g.image_size(), wd, buffer.data(), col.data(), dcol.data(), mine,
                          input_grad ? dxd + n * g.image_size() : nullptr);
    }
  }
  std::vector<float> total(partial_size);
  reduce_partials(partial, team, partial_size, total.data());
  std::copy_n(total.data(), weight_size, dw.data<float>());
  if (!input_grad) std::fill_n(dxd, x.numel(), 0.0f);
  auto db = new_tensor({g.outputs});
  std::copy_n(total.data() + weight_size, g.outputs, db.data<float>());
  return {dx, dw, db};
}

int64_t pooled(int64_t size) { return size / 2; }

// f'(a) = A S (1 - tanh^2(S a)) = (S / A) (A^2 - f(a)^2): the squash's slope from its output.
inline float squash_slope(float y, float amplitude, float slope) {
  return slope / amplitude * (amplitude * amplitude - y * y);
}

// v[i] = A tanh(S (v[i] + bias)) over a contiguous run.
void squash_in_place(float* v, int64_t count, float bias, float amplitude, float slope) {
  int64_t i = 0;
#ifdef LENET5_VECTOR_TANH
  const __m128 b = _mm_set1_ps(bias), a = _mm_set1_ps(amplitude), s = _mm_set1_ps(slope);
  for (; i + 4 <= count; i += 4) {
    const __m128 t = _ZGVbN4v_tanhf(_mm_mul_ps(s, _mm_add_ps(_mm_loadu_ps(v + i), b)));
    _mm_storeu_ps(v + i, _mm_mul_ps(a, t));
  }
#endif
  for (; i < count; ++i) v[i] = amplitude * std::tanh(slope * (v[i] + bias));
}

}  // namespace

// ---- lenet5_conv_pool_relu: y = relu(max_pool_2x2(conv(x, W)) + b) -------------------------
//
// The seed network's two blocks. Max-pooling commutes with a per-channel bias and with
// ReLU, so this equals relu(conv(x) + b) pooled (models/seed.py explains the reordering).
// `Where` records, per pooled output, which of its 2x2 inputs was the maximum (0..3), so
// the backward pass can route the gradient there without recomputing the convolution.

std::vector<paddle::Tensor> ConvPoolReluForward(const paddle::Tensor& x, const paddle::Tensor& w,
                                                const paddle::Tensor& b, int64_t threads, bool /*input_grad*/) {
  PD_CHECK(x.is_cpu() && w.is_cpu() && b.is_cpu(), "conv_pool_relu runs on the CPU only");
  const Geometry g = geometry_of(x, w);
  PD_CHECK(b.numel() == g.outputs, "conv_pool_relu: bias size ", b.numel(), " != ", g.outputs);
  const int64_t ph = pooled(g.out_h), pw = pooled(g.out_w);
  auto y = new_tensor({g.batch, g.outputs, ph, pw});
  auto where = paddle::empty({g.batch, g.outputs, ph, pw}, paddle::DataType::UINT8, paddle::CPUPlace());
  const float* bd = b.data<float>();
  float* yd = y.data<float>();
  uint8_t* whered = where.data<uint8_t>();
  auto pool_bias_relu = [&](int64_t n, const float* conv) {
    for (int64_t o = 0; o < g.outputs; ++o) {
      const float* plane = conv + o * g.positions();
      float* out = yd + (n * g.outputs + o) * ph * pw;
      uint8_t* arg = whered + (n * g.outputs + o) * ph * pw;
      for (int64_t i = 0; i < ph; ++i)
        for (int64_t j = 0; j < pw; ++j) {
          const float* top = plane + 2 * i * g.out_w + 2 * j;
          const float window[4] = {top[0], top[1], top[g.out_w], top[g.out_w + 1]};
          uint8_t best = 0;
          for (uint8_t k = 1; k < 4; ++k)
            if (window[k] > window[best]) best = k;
          arg[i * pw + j] = best;
          out[i * pw + j] = std::max(window[best] + bd[o], 0.0f);
        }
    }
  };
  conv_forward(g, x, w, threads, [](int64_t) -> float* { return nullptr; }, pool_bias_relu);
  return {y, where};
}

std::vector<paddle::Tensor> ConvPoolReluBackward(const paddle::Tensor& x, const paddle::Tensor& w,
                                                 const paddle::Tensor& b, const paddle::Tensor& y,
                                                 const paddle::Tensor& where, const paddle::Tensor& dy,
                                                 int64_t threads, bool input_grad) {
  const Geometry g = geometry_of(x, w);
  const int64_t ph = pooled(g.out_h), pw = pooled(g.out_w);
  const float* yd = y.data<float>();
  const uint8_t* whered = where.data<uint8_t>();
  const float* dyd = dy.data<float>();
  auto unpool = [&](int64_t n, float* dconv, float* bias_grad) {
    std::fill_n(dconv, g.outputs * g.positions(), 0.0f);
    for (int64_t o = 0; o < g.outputs; ++o) {
      const int64_t base = (n * g.outputs + o) * ph * pw;
      float* plane = dconv + o * g.positions();
      float bias_sum = 0.0f;
      for (int64_t i = 0; i < ph; ++i)
        for (int64_t j = 0; j < pw; ++j) {
          const int64_t k = base + i * pw + j;
          const float grad = yd[k] > 0.0f ? dyd[k] : 0.0f;
          bias_sum += grad;
          const uint8_t arg = whered[k];
          plane[(2 * i + (arg >> 1)) * g.out_w + 2 * j + (arg & 1)] = grad;
        }
      bias_grad[o] += bias_sum;
    }
  };
  return conv_backward(g, x, w, threads, input_grad, unpool);
}

std::vector<std::vector<int64_t>> ConvPoolReluInferShape(const std::vector<int64_t>& x, const std::vector<int64_t>& w,
                                                         const std::vector<int64_t>& b) {
  const std::vector<int64_t> shape{x[0], w[0], pooled(x[2] - w[2] + 1), pooled(x[3] - w[3] + 1)};
  return {shape, shape};
}

std::vector<paddle::DataType> ConvPoolReluInferDtype(const paddle::DataType& x, const paddle::DataType& w,
                                                     const paddle::DataType& b) {
  return {x, paddle::DataType::UINT8};
}

PD_BUILD_OP(lenet5_conv_pool_relu)
    .Inputs({"X", "W", "B"})
    .Outputs({"Out", "Where"})
    .Attrs({"threads: int64_t", "input_grad: bool"})
    .SetKernelFn(PD_KERNEL(ConvPoolReluForward))
    .SetInferShapeFn(PD_INFER_SHAPE(ConvPoolReluInferShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(ConvPoolReluInferDtype));

PD_BUILD_GRAD_OP(lenet5_conv_pool_relu)
    .Inputs({"X", "W", "B", "Out", "Where", paddle::Grad("Out")})
    .Outputs({paddle::Grad("X"), paddle::Grad("W"), paddle::Grad("B")})
    .Attrs({"threads: int64_t", "input_grad: bool"})
    .SetKernelFn(PD_KERNEL(ConvPoolReluBackward));

// ---- LeNet-5 (1998): the squash f(a) = A tanh(S a) fused into the layer before it ----------

// lenet5_conv_bias_squash: y = A tanh(S (conv(x, W) + b))     (C1, C3 with W masked, C5)
std::vector<paddle::Tensor> ConvBiasSquashForward(const paddle::Tensor& x, const paddle::Tensor& w,
                                                  const paddle::Tensor& b, int64_t threads, bool /*input_grad*/,
                                                  float amplitude, float slope) {
  PD_CHECK(x.is_cpu() && w.is_cpu() && b.is_cpu(), "conv_bias_squash runs on the CPU only");
  const Geometry g = geometry_of(x, w);
  PD_CHECK(b.numel() == g.outputs, "conv_bias_squash: bias size ", b.numel(), " != ", g.outputs);
  auto y = new_tensor({g.batch, g.outputs, g.out_h, g.out_w});
  const float* bd = b.data<float>();
  float* yd = y.data<float>();
  conv_forward(
      g, x, w, threads, [&](int64_t n) { return yd + n * g.outputs * g.positions(); },
      [&](int64_t, float* conv) {
        for (int64_t o = 0; o < g.outputs; ++o)
          squash_in_place(conv + o * g.positions(), g.positions(), bd[o], amplitude, slope);
      });
  return {y};
}

std::vector<paddle::Tensor> ConvBiasSquashBackward(const paddle::Tensor& x, const paddle::Tensor& w,
                                                   const paddle::Tensor& b, const paddle::Tensor& y,
                                                   const paddle::Tensor& dy, int64_t threads, bool input_grad,
                                                   float amplitude, float slope) {
  const Geometry g = geometry_of(x, w);
  const float* yd = y.data<float>();
  const float* dyd = dy.data<float>();
  auto unsquash = [&](int64_t n, float* da, float* bias_grad) {
    const int64_t base = n * g.outputs * g.positions();
    for (int64_t o = 0; o < g.outputs; ++o) {
      float bias_sum = 0.0f;
      for (int64_t p = 0; p < g.positions(); ++p) {
        const int64_t k = o * g.positions() + p;
        da[k] = dyd[base + k] * squash_slope(yd[base + k], amplitude, slope);
        bias_sum += da[k];
      }
      bias_grad[o] += bias_sum;
    }
  };
  return conv_backward(g, x, w, threads, input_grad, unsquash);
}

std::vector<std::vector<int64_t>> ConvBiasSquashInferShape(const std::vector<int64_t>& x,
                                                           const std::vector<int64_t>& w,
                                                           const std::vector<int64_t>& b) {
  return {{x[0], w[0], x[2] - w[2] + 1, x[3] - w[3] + 1}};
}

std::vector<paddle::DataType> ConvBiasSquashInferDtype(const paddle::DataType& x, const paddle::DataType& w,
                                                       const paddle::DataType& b) {
  return {x};
}

PD_BUILD_OP(lenet5_conv_bias_squash)
    .Inputs({"X", "W", "B"})
    .Outputs({"Out"})
    .Attrs({"threads: int64_t", "input_grad: bool", "amplitude: float", "slope: float"})
    .SetKernelFn(PD_KERNEL(ConvBiasSquashForward))
    .SetInferShapeFn(PD_INFER_SHAPE(ConvBiasSquashInferShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(ConvBiasSquashInferDtype));

PD_BUILD_GRAD_OP(lenet5_conv_bias_squash)
    .Inputs({"X", "W", "B", "Out", paddle::Grad("Out")})
    .Outputs({paddle::Grad("X"), paddle::Grad("W"), paddle::Grad("B")})
    .Attrs({"threads: int64_t", "input_grad: bool", "amplitude: float", "slope: float"})
    .SetKernelFn(PD_KERNEL(ConvBiasSquashBackward));

// lenet5_subsample_squash: y = A tanh(S (coef[c] * sum of the 2x2 block + bias[c]))   (S2, S4)
std::vector<paddle::Tensor> SubsampleSquashForward(const paddle::Tensor& x, const paddle::Tensor& coef,
                                                   const paddle::Tensor& bias, int64_t threads,
                                                   bool /*input_grad*/, float amplitude, float slope) {
  PD_CHECK(x.is_cpu() && coef.is_cpu() && bias.is_cpu(), "subsample_squash runs on the CPU only");
  const auto s = x.shape();
  PD_CHECK(s.size() == 4 && coef.numel() == s[1] && bias.numel() == s[1], "subsample_squash: bad shapes");
  const int64_t batch = s[0], channels = s[1], h = s[2], w = s[3], ph = h / 2, pw = w / 2;
  auto y = new_tensor({batch, channels, ph, pw});
  const float* xd = x.data<float>();
  const float* cd = coef.data<float>();
  const float* bd = bias.data<float>();
  float* yd = y.data<float>();
#pragma omp parallel for num_threads(thread_count(threads, batch)) schedule(static)
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c) {
      const float* plane = xd + (n * channels + c) * h * w;
      float* out = yd + (n * channels + c) * ph * pw;
      for (int64_t i = 0; i < ph; ++i)
        for (int64_t j = 0; j < pw; ++j) {
          const float* top = plane + 2 * i * w + 2 * j;
          out[i * pw + j] = cd[c] * (top[0] + top[1] + top[w] + top[w + 1]);
        }
      squash_in_place(out, ph * pw, bd[c], amplitude, slope);
    }
  return {y};
}

std::vector<paddle::Tensor> SubsampleSquashBackward(const paddle::Tensor& x, const paddle::Tensor& coef,
                                                    const paddle::Tensor& bias, const paddle::Tensor& y,
                                                    const paddle::Tensor& dy, int64_t threads, bool input_grad,
                                                    float amplitude, float slope) {
  const auto s = x.shape();
  const int64_t batch = s[0], channels = s[1], h = s[2], w = s[3], ph = h / 2, pw = w / 2;
  auto dx = new_tensor(x.shape());
  auto dcoef = new_tensor(coef.shape());
  auto dbias = new_tensor(bias.shape());
  const float* xd = x.data<float>();
  const float* cd = coef.data<float>();
  const float* yd = y.data<float>();
  const float* dyd = dy.data<float>();
  float* dxd = dx.data<float>();
  const int team = thread_count(threads, batch);
  std::vector<float> partial(static_cast<size_t>(team) * 2 * channels, 0.0f);
#pragma omp parallel num_threads(team)
  {
    float* mine = partial.data() + static_cast<int64_t>(omp_get_thread_num()) * 2 * channels;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t plane_offset = (n * channels + c) * h * w;
        const int64_t out_offset = (n * channels + c) * ph * pw;
        float coef_sum = 0.0f, bias_sum = 0.0f;
        if (input_grad) std::fill_n(dxd + plane_offset, h * w, 0.0f);
        for (int64_t i = 0; i < ph; ++i)
          for (int64_t j = 0; j < pw; ++j) {
            const int64_t k = out_offset + i * pw + j;
            const float da = dyd[k] * squash_slope(yd[k], amplitude, slope);
            const float* top = xd + plane_offset + 2 * i * w + 2 * j;
            coef_sum += da * (top[0] + top[1] + top[w] + top[w + 1]);
            bias_sum += da;
            if (input_grad) {
              float* dtop = dxd + plane_offset + 2 * i * w + 2 * j;
              const float g = da * cd[c];
              dtop[0] = g;
              dtop[1] = g;
              dtop[w] = g;
              dtop[w + 1] = g;
            }
          }
        mine[c] += coef_sum;
        mine[channels + c] += bias_sum;
      }
  }
  std::vector<float> total(2 * channels);
  reduce_partials(partial, team, 2 * channels, total.data());
  std::copy_n(total.data(), channels, dcoef.data<float>());
  std::copy_n(total.data() + channels, channels, dbias.data<float>());
  if (!input_grad) std::fill_n(dxd, x.numel(), 0.0f);
  return {dx, dcoef, dbias};
}

std::vector<std::vector<int64_t>> SubsampleSquashInferShape(const std::vector<int64_t>& x,
                                                            const std::vector<int64_t>& coef,
                                                            const std::vector<int64_t>& bias) {
  return {{x[0], x[1], x[2] / 2, x[3] / 2}};
}

std::vector<paddle::DataType> SubsampleSquashInferDtype(const paddle::DataType& x, const paddle::DataType& coef,
                                                        const paddle::DataType& bias) {
  return {x};
}

PD_BUILD_OP(lenet5_subsample_squash)
    .Inputs({"X", "Coef", "Bias"})
    .Outputs({"Out"})
    .Attrs({"threads: int64_t", "input_grad: bool", "amplitude: float", "slope: float"})
    .SetKernelFn(PD_KERNEL(SubsampleSquashForward))
    .SetInferShapeFn(PD_INFER_SHAPE(SubsampleSquashInferShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(SubsampleSquashInferDtype));

PD_BUILD_GRAD_OP(lenet5_subsample_squash)
    .Inputs({"X", "Coef", "Bias", "Out", paddle::Grad("Out")})
    .Outputs({paddle::Grad("X"), paddle::Grad("Coef"), paddle::Grad("Bias")})
    .Attrs({"threads: int64_t", "input_grad: bool", "amplitude: float", "slope: float"})
    .SetKernelFn(PD_KERNEL(SubsampleSquashBackward));
