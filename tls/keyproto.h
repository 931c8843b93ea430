/* keyproto.h: the messages between tlsd and tlskeyd (run/tlskey.sock), encoded and decoded
   strictly. docs/internals.md "tlskeyd". */
#ifndef YUBIN_TLS_KEYPROTO_H
#define YUBIN_TLS_KEYPROTO_H

#include "keys.h"

#include <stddef.h>
#include <stdint.h>

#define KEYPROTO_MSG_MAX    (1024 * 1024)   /* body of one message; a bigger folder: in-process */
#define KEYPROTO_DIGEST     32              /* SHA-256 of a 'P' body names a folder's contents */
#define KEYPROTO_HASH_MAX   64              /* a hash value to sign (SHA-512) */
#define KEYPROTO_SIG_MAX    512             /* RSA-4096; an ECDSA P-521 DER signature is 139 */
#define KEYPROTO_WAIT_MS    5000            /* for any answer of tlskeyd */

#define KEYPROTO_SESSION_ID 32              /* a TLS session ID as BearSSL makes them */
#define KEYPROTO_MASTER     48              /* a TLS 1.0-1.2 master secret */

/* A message: TYPE (one octet), LENGTH (4 octets, big-endian, at most KEYPROTO_MSG_MAX), BODY.
   Requests: 'P' put the folder's bytes (root, at connect), 'C' get the chains of a folder,
   'S' sign with one of its keys, 'W' keep a TLS session for resumption (no answer), 'R' look
   one up. Answers: 'k' with a body, or 'e' with an error sentence. */
enum { KEYPROTO_PUT = 'P', KEYPROTO_CHAINS = 'C', KEYPROTO_SIGN = 'S', KEYPROTO_SAVE = 'W',
       KEYPROTO_RESUME = 'R', KEYPROTO_OK = 'k', KEYPROTO_ERR = 'e' };

/* A growing message body, at most KEYPROTO_MSG_MAX octets. */
struct keyproto_buf {
    unsigned char *p;
    size_t len, cap;
};

/* Append n octets / a big-endian integer. 0 ok, -1 over KEYPROTO_MSG_MAX or out of memory. */
int keyproto_put(struct keyproto_buf *b, const void *p, size_t n);
int keyproto_put_u32(struct keyproto_buf *b, uint32_t v);
/* Wipe (explicit_bzero) and free. */
void keyproto_free(struct keyproto_buf *b);

/* Send one message (TYPE, LENGTH, BODY) on fd. 0 ok, -1 with errno. */
int keyproto_send(int fd, int type, const void *body, size_t len);
/* Read one message from a blocking fd, waiting at most KEYPROTO_WAIT_MS in all: *type and a
   malloc'd body (caller frees; NULL when len is 0). 0 ok, -1 with errno (EPROTO: malformed or
   too long, ETIMEDOUT, ECONNRESET on EOF). */
int keyproto_recv(int fd, int *type, unsigned char **body, size_t *len);

/* 'P': the bytes of a folder as read by keys_read_dir: u16 length and the folder's path (for
   messages), then for each pair u16 name length, name, u32 length, .pem bytes, u32 length,
   .key bytes. */
int keyproto_put_raw(struct keyproto_buf *b, const struct keys_raw *r);
/* Decode a 'P' body into r (malloc'd copies; the path into dir, dircap octets, and r->dir =
   dir). 0 ok, -1 malformed (nothing kept). */
int keyproto_get_raw(const unsigned char *p, size_t len, struct keys_raw *r, char *dir,
                     size_t dircap);

/* One pair as tlskeyd describes it to tlsd ('C' answer): what BearSSL's policy needs
   without the key. */
struct keyproto_pair {
    char name[KEYS_HOST_MAX + 1];       /* "" for server.pem, else the SNI host */
    int key_type, issuer_key_type;      /* BR_KEYTYPE_RSA / BR_KEYTYPE_EC */
    unsigned bits;                      /* RSA: modulus bits; EC: the curve id */
    long days_left;                     /* until notAfter */
};

/* 'C' answer body: for each pair, u8 name length, name, u8 key type, u8 issuer key type,
   u32 bits or curve, u32 days left (signed), u8 chain length, then each certificate as u32
   length and DER. */
int keyproto_put_chains(struct keyproto_buf *b, const struct keys *k);
/* Decode it into k (chains malloc'd, skey NULL) and pairs[i] for k->certs[i]. 0 ok, -1
   malformed (k freed). */
int keyproto_get_chains(const unsigned char *p, size_t len, struct keys *k,
                        struct keyproto_pair *pairs);

/* 'S' body: digest (32), u8 pair index, u8 hash id (br_*_ID, 0 = MD5+SHA-1 for RSA), u8
   hash length, hash. Decode: 0 ok, -1 malformed. */
int keyproto_put_sign(struct keyproto_buf *b, const unsigned char *digest, unsigned idx,
                      unsigned hash_id, const unsigned char *hv, size_t hv_len);
int keyproto_get_sign(const unsigned char *p, size_t len, unsigned char *digest,
                      unsigned *idx, unsigned *hash_id, const unsigned char **hv,
                      size_t *hv_len);

/* A TLS session kept for resumption (docs/tls.md "Session resumption"): its ID, the server
   name it was made for (SHA-256 of the SNI name in lower case, of "" without one), and what
   BearSSL needs to resume it. */
struct keyproto_session {
    unsigned char id[KEYPROTO_SESSION_ID];
    unsigned char name[KEYPROTO_DIGEST];
    unsigned version, suite;            /* TLS 1.0-1.2 (0x0301-0x0303); the cipher suite */
    unsigned char master[KEYPROTO_MASTER];
};

/* 'W' body and the 'k' answer to 'R' (whole = 1): id, name, u16 version, u16 suite, master
   secret (116 octets). 'R' body (whole = 0): the id alone (32 octets; BearSSL looks a session
   up before it has read the ClientHello's server name, so tlsd compares the name once the
   handshake is done). An 'R' for a session tlskeyd does not have (or no longer:
   TLS_SESSION_TTL) is answered 'k' with no body. Decode: 0 ok, -1 malformed (a length other
   than these, a version outside 3.1-3.3, suite 0). */
int keyproto_put_session(struct keyproto_buf *b, const struct keyproto_session *s, int whole);
int keyproto_get_session(const unsigned char *p, size_t len, struct keyproto_session *s,
                         int whole);

#endif
