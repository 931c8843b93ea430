/* pump.c: non-blocking BearSSL engine pump between a socket and a pair of plaintext fds */
#include "pump.h"
#include "clock.h"
#include "x25519.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const uint16_t pump_server_suites[] = {
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
};
const size_t pump_server_suites_len = sizeof pump_server_suites / sizeof pump_server_suites[0];

void pump_server_init(br_ssl_server_context *sc)
{
    br_ssl_server_zero(sc);
    br_ssl_engine_set_versions(&sc->eng, BR_TLS12, BR_TLS12);
    br_ssl_engine_set_suites(&sc->eng, pump_server_suites, pump_server_suites_len);
    br_ssl_engine_set_hash(&sc->eng, br_sha1_ID, &br_sha1_vtable);
    br_ssl_engine_set_hash(&sc->eng, br_sha224_ID, &br_sha224_vtable);
    br_ssl_engine_set_hash(&sc->eng, br_sha256_ID, &br_sha256_vtable);
    br_ssl_engine_set_hash(&sc->eng, br_sha384_ID, &br_sha384_vtable);
    br_ssl_engine_set_hash(&sc->eng, br_sha512_ID, &br_sha512_vtable);
    br_ssl_engine_set_prf_sha256(&sc->eng, &br_tls12_sha256_prf);
    br_ssl_engine_set_prf_sha384(&sc->eng, &br_tls12_sha384_prf);
    br_ssl_engine_set_default_aes_gcm(&sc->eng);
    br_ssl_engine_set_default_chapol(&sc->eng);
    br_ssl_engine_set_ec(&sc->eng, x25519_ec());     /* X25519 on 64-bit words */
}

long long pump_now_ms(void)
{
    return clock_ms();
}

/* Network I/O that never blocks even on a blocking socket shared with another process
   (STARTTLS mode: the child had the same socket). Falls back to read/write for non-sockets. */
static ssize_t net_read(int fd, void *p, size_t n)
{
    ssize_t r = recv(fd, p, n, MSG_DONTWAIT);
    if (r < 0 && errno == ENOTSOCK) {
        r = read(fd, p, n);
    }
    return r;
}

static ssize_t net_write(int fd, const void *p, size_t n)
{
    ssize_t r = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r < 0 && errno == ENOTSOCK) {
        r = write(fd, p, n);
    }
    return r;
}

static int again(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

/* One attempt at sending records: 1 progress, 0 would block, -1 error (errno). */
static int try_sendrec(br_ssl_engine_context *eng, int fd)
{
    size_t len;
    unsigned char *p = br_ssl_engine_sendrec_buf(eng, &len);
    ssize_t w;
    if (!p || len == 0) {
        return 0;
    }
    w = net_write(fd, p, len);
    if (w < 0) {
        return again(errno) ? 0 : -1;
    }
    br_ssl_engine_sendrec_ack(eng, (size_t)w);
    return 1;
}

/* What one attempt at receiving records did. */
enum recv_result { RECV_ERROR = -1, RECV_WAIT = 0, RECV_PROGRESS = 1, RECV_EOF = 2 };

static enum recv_result try_recvrec(br_ssl_engine_context *eng, int fd)
{
    size_t len;
    unsigned char *p = br_ssl_engine_recvrec_buf(eng, &len);
    ssize_t r;
    if (!p || len == 0) {
        return RECV_WAIT;
    }
    r = net_read(fd, p, len);
    if (r < 0) {
        return again(errno) ? RECV_WAIT : RECV_ERROR;
    }
    if (r == 0) {
        return RECV_EOF;
    }
    br_ssl_engine_recvrec_ack(eng, (size_t)r);
    return RECV_PROGRESS;
}

int pump_wait(br_ssl_engine_context *eng, int netin, int netout, unsigned want,
              long long deadline_ms)
{
    for (;;) {
        unsigned st = br_ssl_engine_current_state(eng);
        struct pollfd pfd[2];
        nfds_t n = 0;
        long long left;
        int r;

        if (st & BR_SSL_CLOSED) {
            errno = 0;
            return -1;
        }
        if (st & BR_SSL_SENDREC) {
            r = try_sendrec(eng, netout);
            if (r < 0) {
                return -1;
            }
            if (r > 0) {
                continue;
            }
        } else if (st & want) {
            return 1;
        } else if (st & BR_SSL_RECVREC) {
            enum recv_result rr = try_recvrec(eng, netin);
            if (rr == RECV_EOF) {
                errno = EPIPE;
                return -1;
            }
            if (rr == RECV_ERROR) {
                return -1;
            }
            if (rr == RECV_PROGRESS) {
                continue;
            }
        } else {
            errno = EPROTO;     /* nothing possible: cannot happen with a sane engine */
            return -1;
        }
        left = deadline_ms - pump_now_ms();
        if (left <= 0) {
            return 0;
        }
        if (st & BR_SSL_SENDREC) {
            pfd[n].fd = netout;
            pfd[n++].events = POLLOUT;
        } else {
            pfd[n].fd = netin;
            pfd[n++].events = POLLIN;
        }
        if (poll(pfd, n, left > 60000 ? 60000 : (int)left) < 0 && errno != EINTR) {
            return -1;
        }
    }
}

/* --- relay --- */

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* Plaintext from the app into the engine. 1 progress, 0 would block, -1 error. */
static int from_app(struct pump_relay *r, int *app_eof)
{
    size_t len;
    unsigned char *p = br_ssl_engine_sendapp_buf(r->eng, &len);
    ssize_t n;
    if (!p || len == 0) {
        return 0;
    }
    n = read(r->appin, p, len);
    if (n < 0) {
        if (again(errno)) {
            return 0;
        }
        n = 0;      /* a broken app pipe ends the app's output like EOF */
    }
    if (n == 0) {
        *app_eof = 1;
        close_fd(&r->appin);
        br_ssl_engine_close(r->eng);    /* flushes, then queues close_notify */
        return 1;
    }
    br_ssl_engine_sendapp_ack(r->eng, (size_t)n);
    r->bytes_out += (unsigned long long)n;
    if ((size_t)n < len) {
        br_ssl_engine_flush(r->eng, 0);  /* the app paused: send what we have now */
    }
    return 1;
}

/* Plaintext from the engine to the app. 1 progress, 0 would block. Never fails: an app that
   stopped reading gets nothing more, and the data is dropped. */
static int to_app(struct pump_relay *r)
{
    size_t len;
    unsigned char *p = br_ssl_engine_recvapp_buf(r->eng, &len);
    ssize_t n;
    if (!p || len == 0) {
        return 0;
    }
    if (r->appout < 0) {
        br_ssl_engine_recvapp_ack(r->eng, len);
        return 1;
    }
    n = write(r->appout, p, len);
    if (n < 0) {
        if (again(errno)) {
            return 0;
        }
        close_fd(&r->appout);
        br_ssl_engine_recvapp_ack(r->eng, len);
        return 1;
    }
    br_ssl_engine_recvapp_ack(r->eng, (size_t)n);
    r->bytes_in += (unsigned long long)n;
    return 1;
}

static int relay_end(struct pump_relay *r, enum pump_end end)
{
    r->end = end;
    r->err = br_ssl_engine_last_error(r->eng);
    close_fd(&r->appin);
    close_fd(&r->appout);
    return end == PUMP_END_CLEAN ? 0 : -1;
}

/* One pass over every operation the state allows. Returns 1 progress, 0 none, -1 done
   (relay_end already called). */
static int relay_step(struct pump_relay *r, int *app_eof, int *net_eof)
{
    unsigned st = br_ssl_engine_current_state(r->eng);
    int progress = 0, x;

    if (st & BR_SSL_CLOSED) {
        return relay_end(r, br_ssl_engine_last_error(r->eng) ? PUMP_END_TLS_ERROR
                                                               : PUMP_END_CLEAN), -1;
    }
    if (st & BR_SSL_SENDREC) {
        x = try_sendrec(r->eng, r->netout);
        if (x < 0) {
            r->sys_errno = errno;
            return relay_end(r, PUMP_END_IO_ERROR), -1;
        }
        progress |= x;
    } else if (*app_eof) {
        /* our close_notify is out; the peer's answer is not needed (RFC 5246 §7.2.1) */
        return relay_end(r, PUMP_END_CLEAN), -1;
    }
    if ((st & BR_SSL_RECVAPP) && to_app(r) > 0) {
        progress = 1;
    }
    if ((st & BR_SSL_SENDAPP) && r->appin >= 0 && from_app(r, app_eof) > 0) {
        progress = 1;
    }
    if ((st & BR_SSL_RECVREC) && !*net_eof) {
        enum recv_result got = try_recvrec(r->eng, r->netin);
        if (got == RECV_EOF) {
            *net_eof = 1;
            close_fd(&r->appout);   /* the app sees EOF; its own end then closes ours */
            if (*app_eof || r->appin < 0) {
                return relay_end(r, PUMP_END_PEER_EOF), -1;
            }
            progress = 1;
        } else if (got == RECV_ERROR) {
            r->sys_errno = errno;
            return relay_end(r, PUMP_END_IO_ERROR), -1;
        } else if (got == RECV_PROGRESS) {
            progress = 1;
        }
    }
    return progress;
}

int pump_relay(struct pump_relay *r)
{
    int app_eof = 0, net_eof = 0;
    long long last = pump_now_ms(), close_deadline = 0;

    r->end = PUMP_END_CLEAN;
    r->err = 0;
    r->sys_errno = 0;
    for (;;) {
        unsigned st;
        struct pollfd pfd[4];
        nfds_t n = 0;
        long long now, wait_ms;
        int x = relay_step(r, &app_eof, &net_eof);

        if (x < 0) {
            return r->end == PUMP_END_CLEAN ? 0 : -1;
        }
        now = pump_now_ms();
        if (x > 0) {
            last = now;
            continue;
        }
        if ((app_eof || net_eof) && close_deadline == 0) {
            close_deadline = now + PUMP_CLOSE_MS;
        }
        st = br_ssl_engine_current_state(r->eng);
        if (st & BR_SSL_SENDREC) {
            pfd[n].fd = r->netout;
            pfd[n++].events = POLLOUT;
        }
        if ((st & BR_SSL_RECVREC) && !net_eof) {
            pfd[n].fd = r->netin;
            pfd[n++].events = POLLIN;
        }
        if ((st & BR_SSL_SENDAPP) && r->appin >= 0) {
            pfd[n].fd = r->appin;
            pfd[n++].events = POLLIN;
        }
        if ((st & BR_SSL_RECVAPP) && r->appout >= 0) {
            pfd[n].fd = r->appout;
            pfd[n++].events = POLLOUT;
        }
        wait_ms = r->idle_ms > 0 ? last + r->idle_ms - now : 60000;
        if (close_deadline && close_deadline - now < wait_ms) {
            wait_ms = close_deadline - now;
        }
        if (wait_ms <= 0 || n == 0) {
            return relay_end(r, close_deadline ? (net_eof ? PUMP_END_PEER_EOF : PUMP_END_CLEAN)
                                               : PUMP_END_IDLE);
        }
        if (poll(pfd, n, wait_ms > 60000 ? 60000 : (int)wait_ms) < 0 && errno != EINTR) {
            r->sys_errno = errno;
            return relay_end(r, PUMP_END_IO_ERROR);
        }
    }
}

/* --- names --- */

struct suite_name {
    uint16_t id;
    const char *name;
};

static const struct suite_name suite_names[] = {
    { BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256" },
    { BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384" },
    { BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256" },
    { BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384" },
    { BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305" },
    { BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305" },
    { BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "ECDHE-ECDSA-AES128-SHA256" },
    { BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384, "ECDHE-ECDSA-AES256-SHA384" },
    { BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "ECDHE-RSA-AES128-SHA256" },
    { BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384, "ECDHE-RSA-AES256-SHA384" },
    { BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE-ECDSA-AES128-SHA" },
    { BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE-ECDSA-AES256-SHA" },
    { BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE-RSA-AES128-SHA" },
    { BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE-RSA-AES256-SHA" },
    { BR_TLS_RSA_WITH_AES_128_GCM_SHA256, "AES128-GCM-SHA256" },
    { BR_TLS_RSA_WITH_AES_256_GCM_SHA384, "AES256-GCM-SHA384" },
    { BR_TLS_RSA_WITH_AES_128_CBC_SHA256, "AES128-SHA256" },
    { BR_TLS_RSA_WITH_AES_256_CBC_SHA256, "AES256-SHA256" },
    { BR_TLS_RSA_WITH_AES_128_CBC_SHA, "AES128-SHA" },
    { BR_TLS_RSA_WITH_AES_256_CBC_SHA, "AES256-SHA" },
    { BR_TLS_RSA_WITH_3DES_EDE_CBC_SHA, "DES-CBC3-SHA" },
};

const char *pump_suite_name(unsigned suite)
{
    size_t i;
    for (i = 0; i < sizeof suite_names / sizeof suite_names[0]; i++) {
        if (suite_names[i].id == suite) {
            return suite_names[i].name;
        }
    }
    return NULL;
}

const char *pump_version_name(unsigned version)
{
    switch (version) {
    case BR_TLS10: return "TLSv1";
    case BR_TLS11: return "TLSv1.1";
    case BR_TLS12: return "TLSv1.2";
    default: return NULL;
    }
}

static const char *const error_names[] = {
    [BR_ERR_OK] = "ok",
    [BR_ERR_BAD_PARAM] = "bad parameter",
    [BR_ERR_BAD_STATE] = "bad state",
    [BR_ERR_UNSUPPORTED_VERSION] = "unsupported protocol version",
    [BR_ERR_BAD_VERSION] = "bad version in a record",
    [BR_ERR_BAD_LENGTH] = "bad record length (not TLS?)",
    [BR_ERR_TOO_LARGE] = "record too large",
    [BR_ERR_BAD_MAC] = "bad record MAC",
    [BR_ERR_NO_RANDOM] = "no random source",
    [BR_ERR_UNKNOWN_TYPE] = "unknown record type (not TLS?)",
    [BR_ERR_UNEXPECTED] = "unexpected message",
    [BR_ERR_BAD_CCS] = "bad ChangeCipherSpec",
    [BR_ERR_BAD_ALERT] = "bad alert",
    [BR_ERR_BAD_HANDSHAKE] = "bad handshake message",
    [BR_ERR_OVERSIZED_ID] = "oversized session id",
    [BR_ERR_BAD_CIPHER_SUITE] = "no common cipher suite",
    [BR_ERR_BAD_COMPRESSION] = "no common compression",
    [BR_ERR_BAD_FRAGLEN] = "bad fragment length",
    [BR_ERR_BAD_SECRENEG] = "bad secure renegotiation",
    [BR_ERR_EXTRA_EXTENSION] = "unexpected extension",
    [BR_ERR_BAD_SNI] = "bad server name",
    [BR_ERR_BAD_HELLO_DONE] = "bad ServerHelloDone",
    [BR_ERR_LIMIT_EXCEEDED] = "limit exceeded",
    [BR_ERR_BAD_FINISHED] = "bad Finished",
    [BR_ERR_RESUME_MISMATCH] = "resumption mismatch",
    [BR_ERR_INVALID_ALGORITHM] = "invalid algorithm",
    [BR_ERR_BAD_SIGNATURE] = "bad signature",
    [BR_ERR_WRONG_KEY_USAGE] = "wrong key usage",
    [BR_ERR_NO_CLIENT_AUTH] = "no client certificate",
    [BR_ERR_IO] = "I/O error",
    [BR_ERR_X509_EMPTY_CHAIN] = "empty certificate chain",
    [BR_ERR_X509_BAD_SIGNATURE] = "bad certificate signature",
    [BR_ERR_X509_EXPIRED] = "certificate expired or not yet valid",
    [BR_ERR_X509_DN_MISMATCH] = "certificate chain out of order",
    [BR_ERR_X509_BAD_SERVER_NAME] = "certificate is for another host name",
    [BR_ERR_X509_NOT_CA] = "issuer is not a CA",
    [BR_ERR_X509_WEAK_PUBLIC_KEY] = "weak public key",
    [BR_ERR_X509_NOT_TRUSTED] = "certificate not trusted",
};

static const char *alert_name(int a)
{
    switch (a) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 112: return "unrecognized_name";
    default: return "alert";
    }
}

const char *pump_error_text(int err, char *out, size_t cap)
{
    const char *name = NULL;
    int r;
    if (err >= BR_ERR_SEND_FATAL_ALERT) {
        r = snprintf(out, cap, "sent alert %d %s", err - BR_ERR_SEND_FATAL_ALERT,
                     alert_name(err - BR_ERR_SEND_FATAL_ALERT));
    } else if (err >= BR_ERR_RECV_FATAL_ALERT) {
        r = snprintf(out, cap, "received alert %d %s", err - BR_ERR_RECV_FATAL_ALERT,
                     alert_name(err - BR_ERR_RECV_FATAL_ALERT));
    } else {
        if (err >= 0 && (size_t)err < sizeof error_names / sizeof error_names[0]) {
            name = error_names[err];
        }
        if (!name && err >= 32 && err < 256) {
            name = "certificate rejected";  /* BR_ERR_X509_* */
        }
        r = snprintf(out, cap, "%s", name ? name : "unknown error");
    }
    if (r < 0 && cap > 0) {
        out[0] = '\0';
    }
    return out;
}
