/**
 * Configuration files for the reference servers of bench/http.ts and
 * bench/proxy.ts. Everything nginx and HAProxy write (pid, error log, temp
 * files) goes into the bench's temp dir.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * nginx serving `root` on 127.0.0.1:`port`: sendfile, tcp_nopush, no access
 * log, in the foreground; `sndbuf` sets SO_SNDBUF on its connections
 * (listen's sndbuf=). `user root` so the workers can read the 0700 temp
 * dir. keepalive_requests is raised from nginx's default of 1000 so that, like
 * the other servers, it does not close wrk's keep-alive connections mid-run.
 */
export function writeNginxConf(dir: string, root: string, port: number, workers: number, sndbuf?: number): string {
  const t = (n: string): string => path.join(dir, n);
  const conf = `user root;
worker_processes ${workers};
daemon off;
pid ${t(`nginx-${port}.pid`)};
error_log ${t(`nginx-error-${port}.log`)} warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  keepalive_requests 10000000;
  client_body_temp_path ${t('nginx-body')};
  proxy_temp_path ${t('nginx-proxy')};
  fastcgi_temp_path ${t('nginx-fastcgi')};
  uwsgi_temp_path ${t('nginx-uwsgi')};
  scgi_temp_path ${t('nginx-scgi')};
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port}${sndbuf ? ` sndbuf=${sndbuf}` : ''};
    root ${root};
  }
}
`;
  const file = t(`nginx-${port}.conf`);
  fs.writeFileSync(file, conf);
  return file;
}

/** HAProxy 2.x in TCP mode, `threads` threads (default 1), splice-auto, one frontend and one backend. */
export function writeHaproxyConf(dir: string, port: number, upstreamPort: number, threads = 1): string {
  const conf = `global
  nbthread ${threads}
  maxconn 4096

defaults
  mode tcp
  option splice-auto
  timeout connect 5s
  timeout client 60s
  timeout server 60s

frontend fe
  bind 127.0.0.1:${port}
  default_backend be

backend be
  server nginx 127.0.0.1:${upstreamPort}
`;
  const file = path.join(dir, `haproxy-${port}.cfg`);
  fs.writeFileSync(file, conf);
  return file;
}
