// Yibao Ledger: in-browser re-verification (progressive enhancement).
//
// The page is rendered and verified by the viewer's server. This script checks the same
// claims again in the reader's browser, from data the viewer relays unchanged from its
// source (`/data/entry/LOG/SEQ`): the entry's signed bytes, its inclusion proof, the log's
// signed checkpoint and the verifier keys. It recomputes, per schema/SPEC.md:
//   - the log's key ID from its vkey (SHA-256, §6) and the key checks of §5 (2)(3);
//   - the checkpoint's Ed25519 signature (WebCrypto) over its note text (§6);
//   - the entry's structure (§3.3), its statement (§3.1), payload hash (BLAKE3) and the
//     officer's Ed25519 signature;
//   - the leaf hash BLAKE3(0x00 ‖ entry) and the RFC 9162 audit path (§4) up to the
//     checkpoint's root;
//   - that the record shown on the page is the one in the signed bytes;
//   - the witnesses' cosignatures (§7) whose keys it knows.
// BLAKE3 is implemented below from the BLAKE3 specification (no dependency).
// Nothing here writes anything; a failure names the check that failed.
"use strict";

(function () {
  // ---------------------------------------------------------------- BLAKE3 (hash mode)
  const IV = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
    0x5be0cd19,
  ]);
  const PERM = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
  const CHUNK_START = 1;
  const CHUNK_END = 2;
  const PARENT = 4;
  const ROOT = 8;
  const BLOCK_LEN = 64;
  const CHUNK_LEN = 1024;

  function rotr(x, n) {
    return ((x >>> n) | (x << (32 - n))) >>> 0;
  }

  function g(s, a, b, c, d, mx, my) {
    s[a] = (s[a] + s[b] + mx) >>> 0;
    s[d] = rotr(s[d] ^ s[a], 16);
    s[c] = (s[c] + s[d]) >>> 0;
    s[b] = rotr(s[b] ^ s[c], 12);
    s[a] = (s[a] + s[b] + my) >>> 0;
    s[d] = rotr(s[d] ^ s[a], 8);
    s[c] = (s[c] + s[d]) >>> 0;
    s[b] = rotr(s[b] ^ s[c], 7);
  }

  // The compression function: 16 output words.
  function compress(cv, block, counter, blockLen, flags) {
    const s = new Uint32Array(16);
    s.set(cv, 0);
    s.set(IV.subarray(0, 4), 8);
    s[12] = counter >>> 0;
    s[13] = Math.floor(counter / 0x100000000) >>> 0;
    s[14] = blockLen;
    s[15] = flags;
    let m = Uint32Array.from(block);
    for (let round = 0; round < 7; round++) {
      g(s, 0, 4, 8, 12, m[0], m[1]);
      g(s, 1, 5, 9, 13, m[2], m[3]);
      g(s, 2, 6, 10, 14, m[4], m[5]);
      g(s, 3, 7, 11, 15, m[6], m[7]);
      g(s, 0, 5, 10, 15, m[8], m[9]);
      g(s, 1, 6, 11, 12, m[10], m[11]);
      g(s, 2, 7, 8, 13, m[12], m[13]);
      g(s, 3, 4, 9, 14, m[14], m[15]);
      if (round < 6) {
        const next = new Uint32Array(16);
        for (let i = 0; i < 16; i++) next[i] = m[PERM[i]];
        m = next;
      }
    }
    for (let i = 0; i < 8; i++) {
      s[i] ^= s[i + 8];
      s[i + 8] ^= cv[i];
    }
    return s;
  }

  // A block of up to 64 bytes as 16 little-endian words, zero-padded.
  function words(bytes, start, len) {
    const w = new Uint32Array(16);
    for (let i = 0; i < len; i++) {
      w[i >> 2] |= bytes[start + i] << (8 * (i & 3));
    }
    return w;
  }

  // What a chunk or a parent node would output: compressed with ROOT or as a chaining value.
  function chunkOutput(input, start, len, chunkIndex) {
    let cv = IV;
    const blocks = Math.max(1, Math.ceil(len / BLOCK_LEN));
    for (let b = 0; b < blocks - 1; b++) {
      const flags = b === 0 ? CHUNK_START : 0;
      cv = compress(cv, words(input, start + b * BLOCK_LEN, BLOCK_LEN), chunkIndex, BLOCK_LEN, flags).subarray(0, 8);
    }
    const lastLen = len - (blocks - 1) * BLOCK_LEN;
    return {
      cv: cv,
      block: words(input, start + (blocks - 1) * BLOCK_LEN, lastLen),
      counter: chunkIndex,
      blockLen: lastLen,
      flags: (blocks === 1 ? CHUNK_START : 0) | CHUNK_END,
    };
  }

  function chainingValue(out) {
    return compress(out.cv, out.block, out.counter, out.blockLen, out.flags).subarray(0, 8);
  }

  function parentOutput(left, right) {
    const block = new Uint32Array(16);
    block.set(left, 0);
    block.set(right, 8);
    return { cv: IV, block: block, counter: 0, blockLen: BLOCK_LEN, flags: PARENT };
  }

  /** BLAKE3 of `input` (a Uint8Array), 32 bytes. */
  function blake3(input) {
    const chunks = Math.max(1, Math.ceil(input.length / CHUNK_LEN));
    const stack = [];
    let out = null;
    for (let i = 0; i < chunks; i++) {
      const start = i * CHUNK_LEN;
      const len = Math.min(CHUNK_LEN, input.length - start);
      out = chunkOutput(input, start, len, i);
      if (i === chunks - 1) break;
      // A chunk that is not the last: merge completed subtrees (the count of chunks so far
      // has one trailing zero bit per subtree this chunk completes).
      let cv = chainingValue(out);
      let total = i + 1;
      while ((total & 1) === 0) {
        cv = chainingValue(parentOutput(stack.pop(), cv));
        total >>= 1;
      }
      stack.push(cv);
    }
    while (stack.length > 0) {
      out = parentOutput(stack.pop(), chainingValue(out));
    }
    const s = compress(out.cv, out.block, out.counter, out.blockLen, out.flags | ROOT);
    const digest = new Uint8Array(32);
    for (let i = 0; i < 8; i++) {
      digest[4 * i] = s[i] & 0xff;
      digest[4 * i + 1] = (s[i] >>> 8) & 0xff;
      digest[4 * i + 2] = (s[i] >>> 16) & 0xff;
      digest[4 * i + 3] = (s[i] >>> 24) & 0xff;
    }
    return digest;
  }

  // ---------------------------------------------------------------- bytes and text
  function concat() {
    let len = 0;
    for (const a of arguments) len += a.length;
    const out = new Uint8Array(len);
    let at = 0;
    for (const a of arguments) {
      out.set(a, at);
      at += a.length;
    }
    return out;
  }

  const utf8 = (text) => new TextEncoder().encode(text);
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

  function fromHex(text) {
    if (typeof text !== "string" || !/^([0-9a-f]{2})*$/.test(text)) throw new Error("not lowercase hex");
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
    return out;
  }

  function fromBase64(text) {
    if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
      throw new Error("not standard padded base64");
    }
    const raw = atob(text);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  // ---------------------------------------------------------------- CBOR (a strict subset)
  // Definite lengths only; uints above 2^53 become BigInt.
  function cborDecode(bytes) {
    let at = 0;
    const need = (n) => {
      if (at + n > bytes.length) throw new Error("CBOR: truncated");
    };
    function arg(info) {
      if (info < 24) return info;
      const size = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
      if (!size) throw new Error("CBOR: unsupported length encoding");
      need(size);
      let v = 0n;
      for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(bytes[at++]);
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    function item() {
      need(1);
      const head = bytes[at++];
      const major = head >> 5;
      const info = head & 31;
      if (major === 7) {
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        throw new Error("CBOR: unsupported simple value");
      }
      const n = arg(info);
      switch (major) {
        case 0:
          return n;
        case 1:
          return typeof n === "bigint" ? -1n - n : -1 - n;
        case 2:
          need(n);
          at += n;
          return bytes.slice(at - n, at);
        case 3:
          need(n);
          at += n;
          return new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(at - n, at));
        case 4: {
          const out = [];
          for (let i = 0; i < n; i++) out.push(item());
          return out;
        }
        case 5: {
          const out = {};
          for (let i = 0; i < n; i++) {
            const key = item();
            if (typeof key !== "string") throw new Error("CBOR: a map key is not text");
            out[key] = item();
          }
          return out;
        }
        default:
          throw new Error("CBOR: unsupported major type " + major);
      }
    }
    const value = item();
    if (at !== bytes.length) throw new Error("CBOR: trailing bytes");
    return value;
  }

  // ---------------------------------------------------------------- Ed25519 key checks (§5)
  const P = (1n << 255n) - 19n;
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;
  const mod = (a) => {
    const r = a % P;
    return r >= 0n ? r : r + P;
  };
  function pow(base, e) {
    let r = 1n;
    let b = mod(base);
    while (e > 0n) {
      if (e & 1n) r = mod(r * b);
      b = mod(b * b);
      e >>= 1n;
    }
    return r;
  }
  const D = mod(-121665n * pow(121666n, P - 2n));
  const SQRT_M1 = pow(2n, (P - 1n) / 4n);

  // A point in extended coordinates, or null if the encoding is not canonical or not on the curve.
  function decompress(bytes) {
    let y = 0n;
    for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(bytes[i]);
    const sign = y >> 255n;
    y &= (1n << 255n) - 1n;
    if (y >= P) return null;
    const u = mod(y * y - 1n);
    const v = mod(D * y * y + 1n);
    let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (P - 5n) / 8n));
    const vx2 = mod(v * x * x);
    if (vx2 === mod(-u)) x = mod(x * SQRT_M1);
    else if (vx2 !== u) return null;
    if (x === 0n && sign === 1n) return null; // "negative zero"
    if ((x & 1n) !== sign) x = mod(-x);
    return [x, y, 1n, mod(x * y)];
  }

  function add(p, q) {
    const a = mod((p[1] - p[0]) * (q[1] - q[0]));
    const b = mod((p[1] + p[0]) * (q[1] + q[0]));
    const c = mod(2n * D * p[3] * q[3]);
    const d = mod(2n * p[2] * q[2]);
    const e = b - a;
    const f = d - c;
    const g2 = d + c;
    const h = b + a;
    return [mod(e * f), mod(g2 * h), mod(f * g2), mod(e * h)];
  }

  function multiply(point, k) {
    let r = [0n, 1n, 1n, 0n];
    let q = point;
    while (k > 0n) {
      if (k & 1n) r = add(r, q);
      q = add(q, q);
      k >>= 1n;
    }
    return r;
  }

  const isIdentity = (p) => p[0] === 0n && mod(p[1] - p[2]) === 0n;

  /** Why a public key fails §5 (2)(3), or null when it passes. */
  function keyProblem(pk) {
    const point = decompress(pk);
    if (!point) return "not a canonical curve point";
    if (isIdentity(multiply(point, 8n))) return "a key of small order";
    if (!isIdentity(multiply(point, L))) return "a key with a torsion component";
    return null;
  }

  // ---------------------------------------------------------------- signatures and notes
  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  async function ed25519Verify(pk, signature, message) {
    const key = await crypto.subtle.importKey("raw", pk, { name: "Ed25519" }, false, ["verify"]);
    return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
  }

  async function keyId(name, type, pk) {
    return (await sha256(concat(utf8(name), new Uint8Array([0x0a, type]), pk))).slice(0, 4);
  }

  /** `<name>+<key ID hex>+<base64(type ‖ key)>`, checked. */
  async function parseVkey(text) {
    const first = text.indexOf("+");
    const second = text.indexOf("+", first + 1);
    if (first <= 0 || second !== first + 9) throw new Error("malformed vkey");
    const name = text.slice(0, first);
    const id = fromHex(text.slice(first + 1, second));
    const material = fromBase64(text.slice(second + 1));
    if (material.length !== 33) throw new Error("the vkey's key is not 1 + 32 bytes");
    const type = material[0];
    const pk = material.slice(1);
    if (!equal(await keyId(name, type, pk), id)) throw new Error("the vkey's key ID does not match its key");
    return { name: name, type: type, pk: pk, id: id };
  }

  /** A signed note: text (with its final newline) and signature lines. */
  function parseNote(note) {
    const split = note.lastIndexOf("\n\n");
    if (split < 0) throw new Error("no blank line before the signatures");
    const text = note.slice(0, split + 1);
    const block = note.slice(split + 2);
    if (!block.endsWith("\n") || block.length < 2) throw new Error("malformed signature block");
    const signatures = block
      .slice(0, -1)
      .split("\n")
      .map((line) => {
        const m = /^\u2014 (\S+) ([A-Za-z0-9+/]+=*)$/.exec(line);
        if (!m) throw new Error("malformed signature line");
        const raw = fromBase64(m[2]);
        if (raw.length < 5) throw new Error("signature line too short");
        return { name: m[1], id: raw.slice(0, 4), sig: raw.slice(4) };
      });
    return { text: text, signatures: signatures };
  }

  function parseCheckpointBody(text) {
    const lines = text.split("\n");
    if (lines.length !== 4 || lines[3] !== "") throw new Error("a v1 checkpoint body has exactly three lines");
    if (!/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Error("the size line is not a decimal number");
    const root = fromBase64(lines[2]);
    if (root.length !== 32) throw new Error("the root is not 32 bytes");
    return { origin: lines[0], size: BigInt(lines[1]), root: root };
  }

  // ---------------------------------------------------------------- Merkle (RFC 9162 §2.1.3.2)
  const leafHash = (entry) => blake3(concat(new Uint8Array([0]), entry));
  const nodeHash = (l, r) => blake3(concat(new Uint8Array([1]), l, r));

  function rootFromInclusion(leaf, index, size, path) {
    if (index >= size) throw new Error("the index is not below the tree size");
    let fn = index;
    let sn = size - 1n;
    let r = leaf;
    for (const p of path) {
      if (sn === 0n) throw new Error("the proof is too long");
      if ((fn & 1n) === 1n || fn === sn) {
        r = nodeHash(p, r);
        if ((fn & 1n) === 0n) {
          while ((fn & 1n) === 0n && fn !== 0n) {
            fn >>= 1n;
            sn >>= 1n;
          }
        }
      } else {
        r = nodeHash(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) throw new Error("the proof is too short");
    return r;
  }

  // ---------------------------------------------------------------- messages
  const EN = document.documentElement.lang === "en";
  const t = (zh, en) => (EN ? en : zh);

  function yuan(fen) {
    const v = BigInt(fen);
    const whole = (v / 100n).toString();
    const cents = (v % 100n).toString().padStart(2, "0");
    return whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + "." + cents;
  }

  function shanghai(seconds) {
    const d = new Date((Number(seconds) + 8 * 3600) * 1000);
    return d.toISOString().slice(0, 19).replace("T", " ") + " +08:00";
  }

  class CheckFailed extends Error {
    constructor(step, reason) {
      super(step + ": " + reason);
      this.step = step;
      this.reason = reason;
    }
  }

  async function step(name, f) {
    try {
      return await f();
    } catch (e) {
      if (e instanceof CheckFailed) throw e;
      throw new CheckFailed(name, e && e.message ? e.message : String(e));
    }
  }

  function fail(name, reason) {
    throw new CheckFailed(name, reason);
  }

  // ---------------------------------------------------------------- one entry
  const STATEMENT_PREFIX = "yibao-ledger/v1/statement\n";
  const COSIGNATURE_PREFIX = "cosignature/v1\ntime ";

  /** Checks what the viewer relayed for (log, seq); returns what it established. */
  async function checkEntry(data, log, seq, pageVkey) {
    const origin = "yibao.ledger/v1/blake3/" + log;
    const S = {
      key: t("日志公钥", "log key"),
      checkpoint: t("检查点签名", "checkpoint signature"),
      entry: t("条目字节", "entry bytes"),
      officer: t("经办人签名", "officer signature"),
      inclusion: t("包含证明", "inclusion proof"),
    };

    const key = await step(S.key, async () => {
      if (!data.log || typeof data.log.vkey !== "string") fail(S.key, t("未收到日志公钥", "no verifier key"));
      const k = await parseVkey(data.log.vkey);
      if (k.name !== origin) fail(S.key, t("公钥名称不是本日志", "the key is named for another log"));
      if (k.type !== 1) fail(S.key, t("不是 Ed25519 公钥", "not an Ed25519 key"));
      if (pageVkey && data.log.vkey !== pageVkey) fail(S.key, t("与页面所示公钥不同", "differs from the key shown on the page"));
      const problem = keyProblem(k.pk);
      if (problem) fail(S.key, problem);
      return k;
    });

    const checkpoint = await step(S.checkpoint, async () => {
      const note = parseNote(data.checkpoint);
      const body = parseCheckpointBody(note.text);
      if (body.origin !== origin) fail(S.checkpoint, t("检查点属于其他日志", "the checkpoint is of another log"));
      const own = note.signatures.filter((s) => s.name === key.name && equal(s.id, key.id));
      if (own.length === 0) fail(S.checkpoint, t("没有本日志公钥的签名", "no signature by the log's key"));
      for (const s of own) {
        if (s.sig.length !== 64 || !(await ed25519Verify(key.pk, s.sig, utf8(note.text)))) {
          fail(S.checkpoint, t("签名无效", "the signature does not verify"));
        }
      }
      return { note: note, body: body };
    });

    const entry = await step(S.entry, async () => {
      if (!data.entry || typeof data.entry.entry !== "string") fail(S.entry, t("该条目不公开", "the entry is not public"));
      const bytes = fromBase64(data.entry.entry);
      const e = cborDecode(bytes);
      if (!Array.isArray(e) || e.length !== 6 || e[0] !== 1) fail(S.entry, t("不是第1版条目", "not a version 1 entry"));
      if (BigInt(e[1]) !== seq) fail(S.entry, t("条目自称序号 ", "it says seq ") + e[1] + t("，而非 ", ", not ") + seq);
      const statement = cborDecode(e[3]);
      if (!Array.isArray(statement) || statement.length !== 7 || statement[0] !== 1) fail(S.entry, t("声明格式有误", "malformed statement"));
      if (statement[1] !== origin) fail(S.entry, t("声明属于其他日志", "the statement is for another log"));
      const payload = e[5];
      if (BigInt(statement[6]) !== BigInt(payload.length) || !equal(statement[5], blake3(payload))) {
        fail(S.entry, t("载荷哈希不符", "the payload hash does not match"));
      }
      return { bytes: bytes, statement: statement, signature: e[4], statementBytes: e[3], payload: payload, leaf: leafHash(bytes) };
    });

    await step(S.officer, async () => {
      const author = entry.statement[3];
      if (!(author instanceof Uint8Array) || author.length !== 32 || entry.signature.length !== 64) fail(S.officer, "malformed");
      const problem = keyProblem(author);
      if (problem) fail(S.officer, problem);
      const ok = await ed25519Verify(author, entry.signature, concat(utf8(STATEMENT_PREFIX), entry.statementBytes));
      if (!ok) fail(S.officer, t("签名无效", "the signature does not verify"));
    });

    await step(S.inclusion, async () => {
      const proof = data.inclusion;
      if (!proof || !Array.isArray(proof.proof)) fail(S.inclusion, t("未收到包含证明", "no inclusion proof"));
      if (BigInt(proof.tree_size) !== checkpoint.body.size) fail(S.inclusion, t("证明的树规模与检查点不同", "the proof is for another tree size"));
      const path = proof.proof.map(fromHex);
      if (path.some((h) => h.length !== 32)) fail(S.inclusion, t("哈希长度有误", "a hash is not 32 bytes"));
      const root = rootFromInclusion(entry.leaf, seq, checkpoint.body.size, path);
      if (!equal(root, checkpoint.body.root)) fail(S.inclusion, t("推算的根哈希与签名检查点不符", "the path does not lead to the checkpoint's root"));
    });

    const record = cborDecode(entry.payload);
    return { key: key, checkpoint: checkpoint, entry: entry, record: record, kind: entry.statement[4] };
  }

  /** The cosignatures on a checkpoint, checked against the witnesses the source names. */
  async function checkCosignatures(data, checkpoint, key) {
    const witnesses = [];
    for (const l of data.logs || []) {
      try {
        const k = await parseVkey(l.vkey);
        const name = "yibao.ledger/v1/witness/" + l.log;
        witnesses.push({ name: name, bureau: l.name, pk: k.pk, id: await keyId(name, 4, k.pk) });
      } catch (e) {
        // A log whose key does not parse names no witness.
      }
    }
    const out = [];
    for (const s of checkpoint.note.signatures) {
      if (s.name === key.name && equal(s.id, key.id)) continue;
      const w = witnesses.find((w) => w.name === s.name && equal(w.id, s.id));
      if (!w) {
        out.push({ name: s.name, state: "unknown" });
        continue;
      }
      if (s.sig.length !== 72) {
        out.push({ name: s.name, bureau: w.bureau, state: "bad", reason: "malformed" });
        continue;
      }
      let time = 0n;
      for (let i = 0; i < 8; i++) time = (time << 8n) | BigInt(s.sig[i]);
      const message = utf8(COSIGNATURE_PREFIX + time.toString() + "\n" + checkpoint.note.text);
      const ok = keyProblem(w.pk) === null && (await ed25519Verify(w.pk, s.sig.slice(8), message));
      out.push({ name: s.name, bureau: w.bureau, time: time, state: ok ? "ok" : "bad" });
    }
    return out;
  }

  // ---------------------------------------------------------------- the page
  function setBadge(el, state, text) {
    el.classList.remove("pending", "ok", "bad");
    el.classList.add(state);
    el.dataset.state = state;
    el.textContent = text;
  }

  // The value of a field of the signed record (a dotted path, e.g. totals.total); an
  // institution named in a record is shown by its name and code.
  function recordValue(record, field) {
    if (field === "institution") return record.institution && record.institution.name;
    if (field === "institution_code") return record.institution && record.institution.code;
    let value = record;
    for (const part of field.split(".")) {
      if (value === null || typeof value !== "object") return undefined;
      value = value[part];
    }
    return value;
  }

  // Compares what the page shows (elements with data-field) with the signed record. A row
  // of an institution's grades names the institution (`extra.institution`); a page of one
  // record names the kind it shows (`extra.kind`, an exposure notice unless said).
  function compareFields(root, record, kind, extra) {
    let source;
    if (extra.institution && kind === "grade_set") {
      const g = (record.grades || []).find((g) => g.institution === extra.institution);
      if (!g) return t("签名记录中没有该机构的评价", "the signed grade set does not grade this institution");
      source = (field) => (field === "period" ? record.period : g[field]);
    } else if (extra.institution && kind === "grade_revision") {
      if (record.institution !== extra.institution) return t("签名记录针对其他机构", "the signed revision is about another institution");
      source = (field) => record[field];
    } else if (kind === (extra.kind || "exposure_notice")) {
      source = (field) => recordValue(record, field);
    } else {
      return t("记录类型不符：", "unexpected record kind: ") + kind;
    }
    const fields = root.querySelectorAll("[data-field]");
    if (fields.length === 0) return t("页面未显示记录内容", "the page shows no record fields");
    for (const el of fields) {
      let expected = source(el.dataset.field);
      // Money is shown in yuan: fen, the amount involved and anything marked data-money.
      const money = el.dataset.field === "amount_involved" || el.dataset.money !== undefined;
      if (money && (typeof expected === "number" || typeof expected === "bigint")) expected = "¥" + yuan(expected);
      if (expected === undefined || expected === null || String(expected) !== el.textContent) {
        return t("页面显示的「", "the page's ") + el.dataset.field + t("」与签名记录不符", " differs from the signed record");
      }
    }
    return null;
  }

  async function fetchJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!response.ok) throw new CheckFailed(t("读取数据", "fetching data"), url + ": HTTP " + response.status);
    return response.json();
  }

  // The log list of a publication, read once per page.
  let publishedLogs = null;

  /**
   * What to check for (log, seq): the viewer's relay (`/data/entry/LOG/SEQ`), or, on the
   * page of a publication (`yibao publish`, where a row names its notice file in
   * `data-src`), that file and the publication's `logs.json`, put in the relay's shape.
   */
  async function fetchData(log, seq, src) {
    if (!src) return fetchJson("/data/entry/" + encodeURIComponent(log) + "/" + seq);
    publishedLogs = publishedLogs || fetchJson("logs.json");
    const [notice, published] = await Promise.all([fetchJson(src), publishedLogs]);
    const logs = Array.isArray(published.logs) ? published.logs : [];
    return {
      log: logs.find((l) => l.log === log) || null,
      logs: logs,
      checkpoint: notice.checkpoint,
      entry: notice,
      inclusion: { tree_size: notice.tree_size, proof: notice.proof },
    };
  }

  async function verifyNotice(section) {
    const badge = section.querySelector("#browser-verification");
    const details = section.querySelector("#browser-details");
    const list = section.querySelector("#browser-cosignatures");
    const log = section.dataset.log;
    const seq = BigInt(section.dataset.seq);
    try {
      if (!window.crypto || !crypto.subtle) {
        setBadge(badge, "bad", t("✘ 浏览器无法核验：此页面无 WebCrypto（需 HTTPS）", "✘ cannot verify in this browser: no WebCrypto on this page (HTTPS needed)"));
        return;
      }
      const data = await fetchData(log, seq);
      const checked = await checkEntry(data, log, seq, section.dataset.vkey);
      const problem = compareFields(document.querySelector("main"), checked.record, checked.kind, { kind: section.dataset.kind });
      if (problem) throw new CheckFailed(t("记录内容", "record content"), problem);
      const cosigs = await checkCosignatures(data, checked.checkpoint, checked.key);
      list.textContent = "";
      let bad = null;
      for (const c of cosigs) {
        const li = document.createElement("li");
        li.dataset.state = c.state;
        if (c.state === "ok") li.textContent = "✔ " + c.bureau + " (" + c.name + ") " + t("联署于 ", "cosigned at ") + shanghai(c.time);
        else if (c.state === "bad") {
          li.textContent = "✘ " + c.bureau + " (" + c.name + ") " + t("联署无效", "cosignature does NOT verify");
          bad = bad || c.name;
        } else li.textContent = "? " + c.name + t("（未知见证方，未核验）", " (unknown witness, not checked)");
        list.appendChild(li);
      }
      if (cosigs.length === 0) {
        const li = document.createElement("li");
        li.textContent = t("此检查点尚无见证联署。", "No cosignatures on this checkpoint yet.");
        list.appendChild(li);
      }
      if (bad) throw new CheckFailed(t("见证联署", "cosignature"), bad);
      details.textContent =
        t("检查点规模 ", "checkpoint size ") + checked.checkpoint.body.size + t("，根哈希 ", ", root ") + hex(checked.checkpoint.body.root) +
        t("；叶子哈希 ", "; leaf hash ") + hex(checked.entry.leaf) + t("；公钥 ", "; key ") + section.dataset.vkey;
      setBadge(badge, "ok", t("✔ 浏览器已验证", "✔ verified in your browser"));
    } catch (e) {
      const what = e instanceof CheckFailed ? e.step + ": " + e.reason : String(e);
      setBadge(badge, "bad", t("✘ 浏览器核验失败：", "✘ browser check FAILED: ") + what);
    }
  }

  async function verifyRow(row) {
    const badge = row.querySelector("[data-role=badge]");
    try {
      if (!window.crypto || !crypto.subtle) {
        setBadge(badge, "bad", t("✘ 无 WebCrypto", "✘ no WebCrypto"));
        return;
      }
      const seq = BigInt(row.dataset.seq);
      const data = await fetchData(row.dataset.log, seq, row.dataset.src);
      const checked = await checkEntry(data, row.dataset.log, seq, row.dataset.vkey || null);
      const problem = compareFields(row, checked.record, checked.kind, { institution: row.dataset.institution });
      if (problem) throw new CheckFailed(t("记录内容", "record content"), problem);
      setBadge(badge, "ok", t("✔ 浏览器已验证", "✔ verified in your browser"));
    } catch (e) {
      const what = e instanceof CheckFailed ? e.step + ": " + e.reason : String(e);
      setBadge(badge, "bad", t("✘ 核验失败：", "✘ FAILED: ") + what);
    }
  }

  function start() {
    document.querySelectorAll(".js-only").forEach((el) => {
      el.hidden = false;
    });
    const section = document.getElementById("browser-check");
    const jobs = [];
    if (section) jobs.push(verifyNotice(section));
    document.querySelectorAll("tr.browser-check").forEach((row) => jobs.push(verifyRow(row)));
    Promise.all(jobs).then(() => {
      document.documentElement.dataset.browserCheck = "done";
    });
  }

  window.YibaoVerify = {
    blake3: blake3,
    hex: hex,
    leafHash: leafHash,
    rootFromInclusion: rootFromInclusion,
    cborDecode: cborDecode,
    keyProblem: keyProblem,
    parseVkey: parseVkey,
    parseNote: parseNote,
  };

  if (typeof document !== "undefined" && document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else if (typeof document !== "undefined") {
    start();
  }
})();
