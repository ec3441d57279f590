/*
 * sockets.cc - socket set-up that is not worth a ring operation.
 *
 * bind, listen, setsockopt and getsockname/getpeername happen once per
 * socket and never block, so they are plain system calls. Addresses cross
 * the boundary as sockaddr bytes built here with inet_pton (IPv4 and IPv6,
 * with an optional %scope on IPv6) and come back as {address, port, family}.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <unistd.h>

#include <string>

#include "fdutil.h"
#include "ring_handle.h"

static bool ArgInt(const Napi::CallbackInfo &info, size_t i, int *out) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    Napi::TypeError::New(info.Env(), "expected a number argument").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Number>().Int32Value();
  return true;
}

/* Parses `host` (IPv4 or IPv6 literal) into `ss`. Returns the sockaddr length or 0. */
static socklen_t Encode(const std::string &host, int port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in *in4 = reinterpret_cast<struct sockaddr_in *>(ss);
  if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    return sizeof(*in4);
  }
  struct sockaddr_in6 *in6 = reinterpret_cast<struct sockaddr_in6 *>(ss);
  std::string addr = host;
  size_t pct = addr.find('%');
  if (pct != std::string::npos) {
    std::string scope = addr.substr(pct + 1);
    addr = addr.substr(0, pct);
    unsigned idx = if_nametoindex(scope.c_str());
    if (idx == 0) idx = (unsigned)strtoul(scope.c_str(), nullptr, 10);
    in6->sin6_scope_id = idx;
  }
  if (inet_pton(AF_INET6, addr.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    return sizeof(*in6);
  }
  return 0;
}

/* Converts a sockaddr to {address, port, family: 'IPv4' | 'IPv6'}. */
static Napi::Value Decode(Napi::Env env, const struct sockaddr_storage *ss) {
  Napi::Object o = Napi::Object::New(env);
  char buf[INET6_ADDRSTRLEN + 1] = {0};
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *in4 = reinterpret_cast<const struct sockaddr_in *>(ss);
    inet_ntop(AF_INET, &in4->sin_addr, buf, sizeof(buf));
    o.Set("address", Napi::String::New(env, buf));
    o.Set("port", Napi::Number::New(env, ntohs(in4->sin_port)));
    o.Set("family", Napi::String::New(env, "IPv4"));
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = reinterpret_cast<const struct sockaddr_in6 *>(ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
    o.Set("address", Napi::String::New(env, buf));
    o.Set("port", Napi::Number::New(env, ntohs(in6->sin6_port)));
    o.Set("family", Napi::String::New(env, "IPv6"));
  } else {
    return env.Undefined();
  }
  return o;
}

/* encodeSockaddr(host, port) -> Buffer (sockaddr_in / sockaddr_in6), or null if
 * host is not an IP literal. */
static Napi::Value EncodeSockaddr(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int port;
  if (info.Length() < 1 || !info[0].IsString() || !ArgInt(info, 1, &port)) {
    if (!env.IsExceptionPending())
      Napi::TypeError::New(env, "encodeSockaddr(host: string, port: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct sockaddr_storage ss;
  socklen_t len = Encode(info[0].As<Napi::String>().Utf8Value(), port, &ss);
  if (len == 0) return env.Null();
  return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t *>(&ss), len);
}

/* decodeSockaddr(bytes) -> {address, port, family} | undefined */
static Napi::Value DecodeSockaddr(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  uint8_t *p;
  size_t l;
  if (info.Length() < 1 || !GetBytes(env, info[0], &p, &l)) return env.Undefined();
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  memcpy(&ss, p, l < sizeof(ss) ? l : sizeof(ss));
  return Decode(env, &ss);
}

/* socketSync(domain, type, protocol) -> fd (SOCK_CLOEXEC always added). */
static Napi::Value SocketSync(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int domain, type, proto;
  if (!ArgInt(info, 0, &domain) || !ArgInt(info, 1, &type) || !ArgInt(info, 2, &proto)) return env.Undefined();
  int fd = socket(domain, type | SOCK_CLOEXEC, proto);
  if (fd < 0) return ThrowErrno(env, -errno, "socket");
  return Napi::Number::New(env, fd);
}

/* bind(fd, sockaddr) */
static Napi::Value Bind(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t *p;
  size_t l;
  if (!ArgInt(info, 0, &fd) || info.Length() < 2 || !GetBytes(env, info[1], &p, &l)) return env.Undefined();
  if (bind(fd, reinterpret_cast<const struct sockaddr *>(p), (socklen_t)l) < 0) return ThrowErrno(env, -errno, "bind");
  return env.Undefined();
}

/* listen(fd, backlog) */
static Napi::Value Listen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd, backlog;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &backlog)) return env.Undefined();
  if (listen(fd, backlog) < 0) return ThrowErrno(env, -errno, "listen");
  return env.Undefined();
}

/* setsockopt(fd, level, name, value): integer options only. */
static Napi::Value SetSockOpt(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd, level, name, value;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &level) || !ArgInt(info, 2, &name) || !ArgInt(info, 3, &value))
    return env.Undefined();
  if (setsockopt(fd, level, name, &value, sizeof(value)) < 0) return ThrowErrno(env, -errno, "setsockopt");
  return env.Undefined();
}

/* sendNow(fd, bytes, offset, length, flags) -> bytes sent or -errno (-EAGAIN:
 * the socket is full). A plain send(2) with MSG_DONTWAIT | MSG_NOSIGNAL added,
 * for a few bytes (response headers) where a ring round trip would cost a
 * loop turn. The bytes are copied by the kernel before it returns. */
static Napi::Value SendNow(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd, off, len, flags;
  if (!ArgInt(info, 0, &fd) || info.Length() < 2 || !info[1].IsTypedArray() || !ArgInt(info, 2, &off) ||
      !ArgInt(info, 3, &len) || !ArgInt(info, 4, &flags)) {
    if (!env.IsExceptionPending())
      Napi::TypeError::New(env, "sendNow(fd, bytes, offset, length, flags)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  size_t size = ta.ByteLength();
  if (off < 0 || len < 0 || (size_t)off + (size_t)len > size) {
    Napi::RangeError::New(env, "sendNow: offset/length outside the buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const char *base = static_cast<const char *>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  ssize_t n;
  do {
    n = send(fd, base + off, (size_t)len, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return Napi::Number::New(env, n < 0 ? -errno : (double)n);
}

/* shutdownSync(fd, how): shutdown(2) now. It never blocks on TCP, and unlike
 * IORING_OP_SHUTDOWN (run in io-wq, which looks the fd number up late) it
 * cannot land on a new socket that reused the number after a close. */
static Napi::Value ShutdownSync(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!NumberArgs(info, 2, "shutdownSync(fd, how)")) return env.Undefined();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int how = info[1].As<Napi::Number>().Int32Value();
  if (shutdown(fd, how) < 0) return ThrowErrno(env, -errno, "shutdown");
  return env.Undefined();
}

/* recvAtMark(fd, bytes) -> bytes received (> 0), 0 at end of stream, or
 * below 0 when there is nothing to take now: -1 when `fd` is not at TCP's
 * urgent mark (no urgent data, or past it), -2 when it was at the mark and
 * nothing after the mark has arrived yet (EAGAIN: not the end of stream).
 * splice(2) reads nothing past the urgent mark (without SO_OOBINLINE the
 * urgent byte is out of band): a non-blocking one says EAGAIN there, or 0
 * once the peer's FIN is queued; a blocking one returns 0 whenever anything
 * is queued behind the mark. Only recv(2) moves past it: at the mark this
 * does one recv(2) with MSG_DONTWAIT into `bytes` (pass a 1-byte buffer:
 * after it splice(2) works again). That recv drops the urgent byte and
 * returns the normal bytes after it; once the urgent byte has arrived it
 * passes the mark even when nothing follows (-2 now, and the next call
 * finds no mark). Failures throw (`syscall` 'ioctl': e.g. ENOTTY for a
 * non-TCP fd; 'recv'). */
static Napi::Value RecvAtMark(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  uint8_t *p;
  size_t l;
  if (!NumberArgs(info, 1, "recvAtMark(fd, bytes)")) return env.Undefined();
  if (info.Length() < 2 || !GetBytes(env, info[1], &p, &l)) return env.Undefined();
  if (l == 0) {
    Napi::RangeError::New(env, "recvAtMark: the buffer is empty").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  int at_mark = 0;
  if (ioctl(fd, SIOCATMARK, &at_mark) < 0) return ThrowErrno(env, -errno, "ioctl");
  if (!at_mark) return Napi::Number::New(env, -1);
  ssize_t n;
  do {
    n = recv(fd, p, l, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n >= 0) return Napi::Number::New(env, (double)n);
  if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, -2);
  return ThrowErrno(env, -errno, "recv");
}

/* setNonBlocking(fd, on) -> whether O_NONBLOCK was set before; sets or clears it. */
static Napi::Value SetNonBlocking(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  bool on = info.Length() < 2 || info[1].ToBoolean();
  int was = SetFdNonBlocking(fd, on);
  if (was < 0) return ThrowErrno(env, was, "fcntl");
  return Napi::Boolean::New(env, was == 1);
}

/* getsockopt(fd, level, name) -> integer value. */
static Napi::Value GetSockOpt(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd, level, name, value = 0;
  socklen_t len = sizeof(value);
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &level) || !ArgInt(info, 2, &name)) return env.Undefined();
  if (getsockopt(fd, level, name, &value, &len) < 0) return ThrowErrno(env, -errno, "getsockopt");
  return Napi::Number::New(env, value);
}

/* sendQueueBytes(fd) -> bytes in a socket's send queue that the peer has not
 * taken yet (SIOCOUTQ: for TCP, unsent plus unacknowledged), or -errno (a
 * listening socket, a non-socket). Sampled by sendFile's stall timeout: the
 * queue shrinking while nothing new is written means the peer still reads. */
static Napi::Value SendQueueBytes(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd, n = 0;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  if (ioctl(fd, SIOCOUTQ, &n) < 0) return Napi::Number::New(env, -errno);
  return Napi::Number::New(env, n);
}

static Napi::Value NameOf(const Napi::CallbackInfo &info, bool peer) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  memset(&ss, 0, sizeof(ss));
  int r = peer ? getpeername(fd, reinterpret_cast<struct sockaddr *>(&ss), &len)
               : getsockname(fd, reinterpret_cast<struct sockaddr *>(&ss), &len);
  if (r < 0) return ThrowErrno(env, -errno, peer ? "getpeername" : "getsockname");
  return Decode(env, &ss);
}

/* getsockname(fd) / getpeername(fd) -> {address, port, family} */
static Napi::Value GetSockName(const Napi::CallbackInfo &info) { return NameOf(info, false); }
static Napi::Value GetPeerName(const Napi::CallbackInfo &info) { return NameOf(info, true); }

void InitSockets(Napi::Env env, Napi::Object exports) {
  exports.Set("encodeSockaddr", Napi::Function::New(env, EncodeSockaddr, "encodeSockaddr"));
  exports.Set("decodeSockaddr", Napi::Function::New(env, DecodeSockaddr, "decodeSockaddr"));
  exports.Set("socketSync", Napi::Function::New(env, SocketSync, "socketSync"));
  exports.Set("bind", Napi::Function::New(env, Bind, "bind"));
  exports.Set("listen", Napi::Function::New(env, Listen, "listen"));
  exports.Set("setsockopt", Napi::Function::New(env, SetSockOpt, "setsockopt"));
  exports.Set("shutdownSync", Napi::Function::New(env, ShutdownSync, "shutdownSync"));
  exports.Set("sendNow", Napi::Function::New(env, SendNow, "sendNow"));
  exports.Set("recvAtMark", Napi::Function::New(env, RecvAtMark, "recvAtMark"));
  exports.Set("setNonBlocking", Napi::Function::New(env, SetNonBlocking, "setNonBlocking"));
  exports.Set("getsockopt", Napi::Function::New(env, GetSockOpt, "getsockopt"));
  exports.Set("sendQueueBytes", Napi::Function::New(env, SendQueueBytes, "sendQueueBytes"));
  exports.Set("getsockname", Napi::Function::New(env, GetSockName, "getsockname"));
  exports.Set("getpeername", Napi::Function::New(env, GetPeerName, "getpeername"));
  Napi::Object c = Napi::Object::New(env);
  c.Set("AF_INET", Napi::Number::New(env, AF_INET));
  c.Set("AF_INET6", Napi::Number::New(env, AF_INET6));
  c.Set("SOCK_STREAM", Napi::Number::New(env, SOCK_STREAM));
  c.Set("SOCK_CLOEXEC", Napi::Number::New(env, SOCK_CLOEXEC));
  c.Set("SOL_SOCKET", Napi::Number::New(env, SOL_SOCKET));
  c.Set("IPPROTO_TCP", Napi::Number::New(env, IPPROTO_TCP));
  c.Set("IPPROTO_IPV6", Napi::Number::New(env, IPPROTO_IPV6));
  c.Set("SO_REUSEADDR", Napi::Number::New(env, SO_REUSEADDR));
  c.Set("SO_REUSEPORT", Napi::Number::New(env, SO_REUSEPORT));
  c.Set("SO_KEEPALIVE", Napi::Number::New(env, SO_KEEPALIVE));
  c.Set("SO_ERROR", Napi::Number::New(env, SO_ERROR));
  c.Set("SO_PROTOCOL", Napi::Number::New(env, SO_PROTOCOL));
  c.Set("SO_SNDBUF", Napi::Number::New(env, SO_SNDBUF));
  c.Set("SO_RCVBUF", Napi::Number::New(env, SO_RCVBUF));
  c.Set("TCP_NODELAY", Napi::Number::New(env, TCP_NODELAY));
  c.Set("TCP_KEEPIDLE", Napi::Number::New(env, TCP_KEEPIDLE));
  c.Set("TCP_CORK", Napi::Number::New(env, TCP_CORK));
  c.Set("IPV6_V6ONLY", Napi::Number::New(env, IPV6_V6ONLY));
  c.Set("MSG_NOSIGNAL", Napi::Number::New(env, MSG_NOSIGNAL));
  c.Set("MSG_OOB", Napi::Number::New(env, MSG_OOB));
  c.Set("MSG_MORE", Napi::Number::New(env, MSG_MORE));
  c.Set("MSG_WAITALL", Napi::Number::New(env, MSG_WAITALL));
  c.Set("SHUT_RD", Napi::Number::New(env, SHUT_RD));
  c.Set("SHUT_WR", Napi::Number::New(env, SHUT_WR));
  c.Set("SHUT_RDWR", Napi::Number::New(env, SHUT_RDWR));
  exports.Set("socketConstants", c);
}
