{
  "targets": [
    {
      "target_name": "uring",
      "sources": [
        "native/uring/ring.c",
        "native/uring/addon.cc",
        "native/uring/ring_handle.cc",
        "native/uring/submit.cc",
        "native/uring/complete.cc",
        "native/uring/register.cc",
        "native/uring/pipes.cc",
        "native/uring/pagecache.cc",
        "native/uring/sockets.cc",
        "native/uring/pbuf.cc",
        "native/uring/bigbuf.cc",
        "native/uring/env_io.cc",
        "native/uring/owned_fds.cc",
        "native/uring/relay.cc",
        "native/uring/relay_bufs.cc",
        "native/uring/relay_handle.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "cflags_c": ["-std=gnu11", "-Werror=implicit-function-declaration"],
      "cflags_cc": ["-Wall", "-Wextra", "-std=c++17", "-O2", "-fno-exceptions"],
      "cflags!": ["-fno-exceptions"],
      "conditions": [["OS!='linux'", { "type": "none" }]]
    }
  ]
}
