/* fuzz_handoff: the handed-over TLS state and smtpd's record layer (tls/handoff.c) on
   arbitrary input. First octet 0: the input is a state to decode; what decodes encodes back to
   the same octets. Otherwise: the input is a script for a peer holding the crossed keys, which
   seals records of chosen types and lengths (empty, alerts, handshake, data up to 16 KB),
   flips chosen octets and feeds them in chosen pieces; tlsrec_get must give exactly the data
   records' plaintext, in order, and never more than asked. */
#include "tls/handoff.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void setup(struct tlsrec *r, struct tlsrec *peer, unsigned suite)
{
    static struct handoff h, m;
    size_t i;

    memset(&h, 0, offsetof(struct handoff, pending));
    h.suite = suite;
    h.seq_in = h.seq_out = 1;
    for (i = 0; i < 32; i++) {
        h.key_in[i] = (unsigned char)i;
        h.key_out[i] = (unsigned char)(0x80 + i);
    }
    for (i = 0; i < 12; i++) {
        h.iv_in[i] = (unsigned char)(0x40 + i);
        h.iv_out[i] = (unsigned char)(0xc0 + i);
    }
    m = h;
    memcpy(m.key_in, h.key_out, 32);
    memcpy(m.key_out, h.key_in, 32);
    memcpy(m.iv_in, h.iv_out, 12);
    memcpy(m.iv_out, h.iv_in, 12);
    tlsrec_init(r, &h);
    tlsrec_init(peer, &m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned suites[] = { BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                                       BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                                       BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 };
    static const int types[] = { 23, 23, 23, 21, 22, 20, 24 };
    static struct handoff h;
    static struct tlsrec r, peer;
    static unsigned char enc[HANDOFF_MAX], want[65536], got[65536], plain[TLSREC_PLAIN_MAX];
    size_t pos = 1, nwant = 0, ngot = 0;
    enum tlsrec_res res = TLSREC_MORE;

    if (size == 0) {
        return 0;
    }
    if (data[0] == 0) {
        if (handoff_decode(data + 1, size - 1, &h) == 0
            && (h.npending > HANDOFF_PENDING_MAX
                || handoff_encode(&h, enc, sizeof enc) != (long)(size - 1)
                || memcmp(enc, data + 1, size - 1) != 0)) {
            __builtin_trap();
        }
        return 0;
    }
    setup(&r, &peer, suites[data[0] % 3]);
    /* each step: type selector, length (2 octets), flip position (2), flip mask, piece size */
    while (pos + 7 <= size && res != TLSREC_ERROR && res != TLSREC_CLOSED) {
        int type = types[data[pos] % 7];
        size_t len = ((size_t)data[pos + 1] << 8 | data[pos + 2]) % (TLSREC_PLAIN_MAX + 1);
        size_t flip = (size_t)data[pos + 3] << 8 | data[pos + 4], piece = data[pos + 6] + 1;
        unsigned char mask = data[pos + 5];
        size_t used, rlen, off = 0, i;
        const unsigned char *rec;
        unsigned char copy[TLSREC_RECORD_MAX];

        pos += 7;
        if (type == 21) {
            len = 2;
        }
        if (nwant + len > sizeof want) {
            break;                      /* what is checked fits in want */
        }
        for (i = 0; i < len; i++) {
            plain[i] = pos + i < size ? data[pos + i] : (unsigned char)i;
        }
        rec = tlsrec_seal(&peer, type, plain, len, &used, &rlen);
        if (used != len || rlen > TLSREC_RECORD_MAX) {
            __builtin_trap();
        }
        memcpy(copy, rec, rlen);
        if (mask) {
            copy[flip % rlen] ^= mask;
        }
        if (!mask && type == 23) {
            memcpy(want + nwant, plain, len);
            nwant += len;
        }
        while (off < rlen) {
            size_t space, k = rlen - off < piece ? rlen - off : piece, n;
            unsigned char *q = tlsrec_space(&r, &space);
            if (space == 0) {
                __builtin_trap();       /* room for a whole record is always there */
            }
            if (k > space) {
                k = space;
            }
            memcpy(q, copy + off, k);
            tlsrec_ack(&r, k);
            off += k;
            for (;;) {
                size_t cap = 1 + (pos < size ? data[pos % size] : 0) * 64;
                if (cap > sizeof got - ngot) {
                    cap = sizeof got - ngot;
                }
                res = tlsrec_get(&r, got + ngot, cap, &n);
                if (n > cap || (res != TLSREC_DATA && n != 0)) {
                    __builtin_trap();
                }
                ngot += n;
                if (res != TLSREC_DATA || cap == 0) {
                    break;
                }
            }
            if (res == TLSREC_ERROR || res == TLSREC_CLOSED) {
                break;
            }
        }
        if (res == TLSREC_ERROR && (!r.why || tlsrec_get(&r, got, 1, &used) != TLSREC_ERROR)) {
            __builtin_trap();           /* an error has a reason and stays */
        }
    }
    /* what came out is the data records' plaintext, in order, up to the first bad record */
    if (ngot > nwant || memcmp(got, want, ngot) != 0) {
        __builtin_trap();
    }
    return 0;
}
