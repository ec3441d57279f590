/*
 * pbuf.cc - provided-buffer rings (IORING_REGISTER_PBUF_RING, Linux 5.19).
 *
 * A buffer ring is `count` buffers of `size` bytes that the kernel picks
 * from when a recv has IOSQE_BUFFER_SELECT: the CQE names the buffer it
 * filled (flags >> IORING_CQE_BUFFER_SHIFT), JavaScript reads the bytes in
 * place and hands the buffer back with recycle(bid), which writes one ring
 * entry and publishes the new tail with a release store.
 *
 * Memory: the buffers and the ring of descriptors are anonymous mappings
 * owned jointly by (1) the registration with the kernel, (2) the ArrayBuffer
 * JavaScript sees over the buffers and (3) the PbufRing object. They are
 * unmapped only when all three have let go, so a view kept after
 * unregister() (or after the ring is destroyed) is still valid memory, and
 * the kernel never writes into pages that were handed back.
 *
 * Incremental consumption (IOU_PBUF_RING_INC, 6.12) is asked for only when
 * the caller wants it; a kernel that refuses it (EINVAL) gets a classic ring.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "ring_handle.h"

/* io_uring_buf_reg's 16-bit field after bgid is `pad` in headers before
 * Linux 6.4 and `flags` after; write it by position so both build. */
static void SetRegFlags(struct io_uring_buf_reg *reg, uint16_t flags) {
  memcpy(reinterpret_cast<char *>(reg) + offsetof(struct io_uring_buf_reg, bgid) + sizeof(reg->bgid), &flags,
         sizeof(flags));
}

struct PbufMemory {
  void *data;
  size_t data_bytes;
  void *ring;
  size_t ring_bytes;
  int refs;
};

static void PbufUnref(PbufMemory *m) {
  if (--m->refs > 0) return;
  if (m->data) munmap(m->data, m->data_bytes);
  if (m->ring) munmap(m->ring, m->ring_bytes);
  delete m;
}

class PbufRing : public Napi::ObjectWrap<PbufRing> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PbufRing",
                       {
                           InstanceMethod<&PbufRing::Recycle>("recycle"),
                           InstanceMethod<&PbufRing::Unregister>("unregister"),
                           InstanceMethod<&PbufRing::Available>("available"),
                       });
  }

  /* new PbufRing(ringHandle, bgid, count, size, wantIncremental) */
  explicit PbufRing(const Napi::CallbackInfo &info) : Napi::ObjectWrap<PbufRing>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 5 || !info[0].IsObject() || !info[1].IsNumber() || !info[2].IsNumber() ||
        !info[3].IsNumber()) {
      Napi::TypeError::New(env, "PbufRing(ring, bgid, count, size, incremental)").ThrowAsJavaScriptException();
      return;
    }
    ring_ = Napi::ObjectWrap<RingHandle>::Unwrap(info[0].As<Napi::Object>());
    if (!ring_ || !ring_->alive()) {
      ThrowErrno(env, -EBADF, "io_uring_register");
      return;
    }
    bgid_ = info[1].As<Napi::Number>().Uint32Value();
    count_ = info[2].As<Napi::Number>().Uint32Value();
    size_ = info[3].As<Napi::Number>().Uint32Value();
    bool want_inc = info[4].ToBoolean().Value();
    if (count_ == 0 || count_ > 32768 || (count_ & (count_ - 1)) != 0 || size_ == 0 || bgid_ > 0xffff) {
      Napi::RangeError::New(env, "count must be a power of two <= 32768, size > 0, bgid <= 65535")
          .ThrowAsJavaScriptException();
      return;
    }
    mem_ = new PbufMemory{nullptr, (size_t)count_ * size_, nullptr, (size_t)count_ * sizeof(struct io_uring_buf), 1};
    mem_->data = mmap(nullptr, mem_->data_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mem_->ring = mmap(nullptr, mem_->ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem_->data == MAP_FAILED || mem_->ring == MAP_FAILED) {
      if (mem_->data == MAP_FAILED) mem_->data = nullptr;
      if (mem_->ring == MAP_FAILED) mem_->ring = nullptr;
      PbufUnref(mem_);
      mem_ = nullptr;
      ThrowErrno(env, -ENOMEM, "mmap");
      return;
    }
    /* Index the ring as a plain array: in C++ the header's flexible-array
     * wrapper gets a 1-byte empty struct in front and would shift `bufs`. The
     * tail overlays the `resv` field of entry 0. */
    bufs_ = static_cast<struct io_uring_buf *>(mem_->ring);
    tailp_ = &bufs_[0].resv;
    mask_ = count_ - 1;
    for (uint32_t i = 0; i < count_; i++) Put((uint16_t)i, i);
    tail_ = (uint16_t)count_;
    __atomic_store_n(tailp_, tail_, __ATOMIC_RELEASE);

    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (uint64_t)(uintptr_t)mem_->ring;
    reg.ring_entries = count_;
    reg.bgid = (uint16_t)bgid_;
    int r = -EINVAL;
    if (want_inc) {
      SetRegFlags(&reg, IOU_PBUF_RING_INC);
      r = ur_sys_register(ring_->ring()->fd, IORING_REGISTER_PBUF_RING, &reg, 1);
      if (r == 0) incremental_ = true;
    }
    if (!incremental_) {
      SetRegFlags(&reg, 0);
      r = ur_sys_register(ring_->ring()->fd, IORING_REGISTER_PBUF_RING, &reg, 1);
    }
    if (r < 0) {
      PbufUnref(mem_);
      mem_ = nullptr;
      ThrowErrno(env, r, "io_uring_register");
      return;
    }
    registered_ = true;
    mem_->refs++; /* the registration */
    ringRef_ = Napi::Persistent(info[0].As<Napi::Object>());

    mem_->refs++; /* the ArrayBuffer */
    napi_value ab;
    napi_status st = napi_create_external_arraybuffer(
        env, mem_->data, mem_->data_bytes,
        [](napi_env, void *, void *hint) { PbufUnref(static_cast<PbufMemory *>(hint)); }, mem_, &ab);
    if (st != napi_ok) {
      mem_->refs--;
      DropRegistration();
      ThrowErrno(env, -ENOMEM, "napi_create_external_arraybuffer");
      return;
    }
    Napi::Object self = info.This().As<Napi::Object>();
    self.Set("memory", Napi::Value(env, ab));
    self.Set("incremental", Napi::Boolean::New(env, incremental_));
    self.Set("count", Napi::Number::New(env, count_));
    self.Set("size", Napi::Number::New(env, size_));
    self.Set("bgid", Napi::Number::New(env, bgid_));
  }

  ~PbufRing() override {
    DropRegistration();
    if (mem_) PbufUnref(mem_);
  }

 private:
  /* Writes descriptor `bid` at ring position `pos` (not yet published). */
  void Put(uint16_t bid, uint32_t pos) {
    struct io_uring_buf *b = &bufs_[pos & mask_];
    b->addr = (uint64_t)(uintptr_t)((char *)mem_->data + (size_t)bid * size_);
    b->len = size_;
    b->bid = bid;
  }

  void DropRegistration() {
    if (!registered_) return;
    registered_ = false;
    /* A destroyed ring already released its buffer rings when its fd closed. */
    if (ring_ && ring_->alive()) {
      struct io_uring_buf_reg reg;
      memset(&reg, 0, sizeof(reg));
      reg.bgid = (uint16_t)bgid_;
      ur_sys_register(ring_->ring()->fd, IORING_UNREGISTER_PBUF_RING, &reg, 1);
    }
    PbufUnref(mem_);
    if (!ringRef_.IsEmpty()) ringRef_.Reset();
  }

  /* recycle(bid) or recycle(bid1, bid2, ...): hand buffers back to the kernel. */
  Napi::Value Recycle(const Napi::CallbackInfo &info) {
    if (!registered_) return info.Env().Undefined();
    size_t n = info.Length();
    /* Check every id before publishing any: a bad one must not leave a
     * partly written (or id-0) entry behind for the next call to publish. */
    for (size_t i = 0; i < n; i++) {
      if (!info[i].IsNumber() || info[i].As<Napi::Number>().Uint32Value() >= count_) {
        Napi::RangeError::New(info.Env(), "recycle(bid...): buffer id out of range").ThrowAsJavaScriptException();
        return info.Env().Undefined();
      }
    }
    for (size_t i = 0; i < n; i++) {
      Put((uint16_t)info[i].As<Napi::Number>().Uint32Value(), tail_);
      tail_++;
    }
    __atomic_store_n(tailp_, tail_, __ATOMIC_RELEASE);
    return info.Env().Undefined();
  }

  /* unregister(): the kernel stops picking from this ring; memory stays valid while viewed. */
  Napi::Value Unregister(const Napi::CallbackInfo &info) {
    DropRegistration();
    return info.Env().Undefined();
  }

  /* available() -> buffers the kernel may still pick (tail - kernel head), or -1 if unknown. */
  Napi::Value Available(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!registered_ || !ring_ || !ring_->alive()) return Napi::Number::New(env, -1);
    struct {
      uint32_t buf_group;
      uint32_t head;
      uint32_t resv[8];
    } status;
    memset(&status, 0, sizeof(status));
    status.buf_group = bgid_;
    int r = ur_sys_register(ring_->ring()->fd, IORING_REGISTER_PBUF_STATUS, &status, 1);
    if (r < 0) return Napi::Number::New(env, -1);
    return Napi::Number::New(env, (uint16_t)(tail_ - (uint16_t)status.head));
  }

  RingHandle *ring_ = nullptr;
  Napi::ObjectReference ringRef_;
  PbufMemory *mem_ = nullptr;
  struct io_uring_buf *bufs_ = nullptr;
  uint16_t *tailp_ = nullptr;
  uint32_t bgid_ = 0, count_ = 0, size_ = 0, mask_ = 0;
  uint16_t tail_ = 0;
  bool registered_ = false;
  bool incremental_ = false;
};

void InitPbuf(Napi::Env env, Napi::Object exports) {
  exports.Set("PbufRing", PbufRing::Define(env));
}
