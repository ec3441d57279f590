/*
 * register.cc - memory registered with the ring, and helpers that let
 * JavaScript describe memory to the kernel (iovec arrays, addresses).
 *
 * Registered ("fixed") buffers are one aligned allocation owned jointly by
 * the ring and by the ArrayBuffer JavaScript sees over it: it is freed only
 * when both have let go, so a Buffer kept after ring.destroy() stays valid
 * memory and the kernel never writes into freed pages.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ring_handle.h"

struct FixedMemory {
  void *mem;
  size_t bytes;
  int refs; /* the ring's registration + the JS ArrayBuffer */
};

static void FixedUnref(FixedMemory *fm) {
  if (--fm->refs == 0) {
    free(fm->mem);
    delete fm;
  }
}

void ReleaseFixedMemory(RingHandle *ring) {
  FixedMemory *fm = ring->fixed_;
  if (!fm) return;
  ring->fixed_ = nullptr;
  if (ring->ring()->fd >= 0) ur_unregister_buffers(ring->ring());
  FixedUnref(fm);
}

/*
 * registerBuffers(count, size, alignment) -> ArrayBuffer of count*size bytes.
 * Buffer i is bytes [i*size, (i+1)*size) and has registered index i.
 */
Napi::Value RingHandle::RegisterBuffers(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!alive_) return ThrowErrno(env, -EBADF, "io_uring_register");
  if (fixed_) {
    Napi::Error::New(env, "buffers are already registered with this ring; unregister them first")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint32_t count = info[0].As<Napi::Number>().Uint32Value();
  uint32_t size = info[1].As<Napi::Number>().Uint32Value();
  uint32_t align = info[2].As<Napi::Number>().Uint32Value();
  size_t bytes = (size_t)count * size;
  void *mem = nullptr;
  if (posix_memalign(&mem, align, bytes) != 0) return ThrowErrno(env, -ENOMEM, "posix_memalign");
  memset(mem, 0, bytes);
  struct iovec *iov = (struct iovec *)calloc(count, sizeof(struct iovec));
  if (!iov) {
    free(mem);
    return ThrowErrno(env, -ENOMEM, "calloc");
  }
  for (uint32_t i = 0; i < count; i++) {
    iov[i].iov_base = (char *)mem + (size_t)i * size;
    iov[i].iov_len = size;
  }
  int r = ur_register_buffers(&ring_, iov, count);
  free(iov);
  if (r < 0) {
    free(mem);
    return ThrowErrno(env, r, "io_uring_register");
  }
  FixedMemory *fm = new FixedMemory{mem, bytes, 2};
  fixed_ = fm;
  napi_value ab;
  napi_status st = napi_create_external_arraybuffer(
      env, mem, bytes, [](napi_env, void *, void *hint) { FixedUnref(static_cast<FixedMemory *>(hint)); }, fm,
      &ab);
  if (st != napi_ok) {
    ReleaseFixedMemory(this);
    FixedUnref(fm);
    return ThrowErrno(env, -ENOMEM, "napi_create_external_arraybuffer");
  }
  return Napi::Value(env, ab);
}

Napi::Value RingHandle::UnregisterBuffers(const Napi::CallbackInfo &info) {
  ReleaseFixedMemory(this);
  return info.Env().Undefined();
}

/* fillIovecs(target, buffers[]) -> count. Writes one struct iovec per buffer. */
static Napi::Value FillIovecs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  uint8_t *out;
  size_t outLen;
  if (!GetBytes(env, info[0], &out, &outLen)) return env.Undefined();
  Napi::Array arr = info[1].As<Napi::Array>();
  uint32_t n = arr.Length();
  if ((size_t)n * sizeof(struct iovec) > outLen) {
    Napi::RangeError::New(env, "iovec target too small").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct iovec *iov = reinterpret_cast<struct iovec *>(out);
  for (uint32_t i = 0; i < n; i++) {
    uint8_t *p;
    size_t l;
    if (!GetBytes(env, arr.Get(i), &p, &l)) return env.Undefined();
    iov[i].iov_base = p;
    iov[i].iov_len = l;
  }
  return Napi::Number::New(env, n);
}

/* addressOf(buffer) -> bigint: the address of its first byte, for building
 * kernel structs (msghdr, buffer rings) from JavaScript. */
static Napi::Value AddressOf(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  uint8_t *p;
  size_t l;
  if (!GetBytes(env, info[0], &p, &l)) return env.Undefined();
  return Napi::BigInt::New(env, (uint64_t)(uintptr_t)p);
}

void InitRegisterHelpers(Napi::Env env, Napi::Object exports) {
  exports.Set("fillIovecs", Napi::Function::New(env, FillIovecs, "fillIovecs"));
  exports.Set("addressOf", Napi::Function::New(env, AddressOf, "addressOf"));
}
