import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway certificate authority (openssl) and the certificates it signs, in a temporary directory. */
export class TestCa {
  readonly dir: string;
  readonly caFile: string;
  #serial = 1;

  private constructor(dir: string) {
    this.dir = dir;
    this.caFile = join(dir, 'ca.pem');
  }

  static create(): TestCa {
    const ca = new TestCa(mkdtempSync(join(tmpdir(), 'switchyard-tls-')));
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=Switchyard test CA');
    return ca;

    function openssl(...args: string[]): void {
      execFileSync('openssl', [...args, '-keyout', join(ca.dir, 'ca.key'), '-out', ca.caFile], { stdio: 'pipe' });
    }
  }

  /**
   * A certificate for `names` (subjectAltName DNS, or IP for an address), signed by this CA: `<file>.pem` and `<file>.key`.
   * `key`: rsa (2048) or ec (P-256).
   */
  issue(file: string, names: readonly string[], key: 'rsa' | 'ec' = 'ec'): { cert: string; key: string } {
    const cert = join(this.dir, `${file}.pem`);
    const keyFile = join(this.dir, `${file}.key`);
    const csr = join(this.dir, `${file}.csr`);
    const ext = join(this.dir, `${file}.ext`);
    writeFileSync(ext, `subjectAltName=${names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',')}\n`);
    const keyArgs = key === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
    run('req', ...keyArgs, '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${names[0]}`);
    const serial = String(this.#serial++);
    run('x509', '-req', '-in', csr, '-CA', this.caFile, '-CAkey', join(this.dir, 'ca.key'), '-set_serial', serial, '-out', cert, '-days', '2', '-extfile', ext);
    return { cert, key: keyFile };
  }

  /** The CA's certificate (what clients trust). */
  read(): Buffer {
    return readFileSync(this.caFile);
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function run(...args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' });
}
