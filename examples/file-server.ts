/**
 * HTTP/1.1 static file server on the io_uring runtime (`npm start`).
 * See examples/file-server/ for the parts; `--help` for options.
 */
import { main } from './file-server/main';

export { createFileServer } from './file-server/server';
export type { FileServer, FileServerOptions } from './file-server/server';

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
