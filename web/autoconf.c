/* autoconf.c: Thunderbird autoconfig, Autodiscover and .mobileconfig documents (autoconf.h) */
#include "autoconf.h"

#include "str.h"
#include "webparse.h"

#include <string.h>

struct server {
    const char *host;       /* NULL: "pop3." or "smtp." DOMAIN */
    const char *prefix;
    unsigned port;
    int ssl;
};

/* The servers in the order a program should try them; returns how many (at most 2). */
static size_t incoming(const struct sheet *s, struct server *out)
{
    size_t n = 0;
    if (s->pop3s) {
        out[n++] = (struct server){ s->me, "", 995, 1 };
    }
    out[n++] = (struct server){ s->domain, "pop3.", 110, 0 };
    return n;
}

static size_t outgoing(const struct sheet *s, struct server *out)
{
    out[0] = (struct server){ s->me, "", 465, 1 };
    out[1] = (struct server){ s->domain, "smtp.", 587, 0 };
    return 2;
}

static int esc(struct buf *b, const char *s)
{
    return web_escape(b, s, strlen(s));
}

static int host(struct buf *b, const struct server *v)
{
    return buf_puts(b, v->prefix) < 0 ? -1 : esc(b, v->host);
}

static int tb_server(struct buf *b, const char *tag, const char *type, const struct server *v,
                     const char *user)
{
    if (buf_printf(b, "    <%s type=\"%s\">\n      <hostname>", tag, type) < 0 || host(b, v) < 0
        || buf_printf(b, "</hostname>\n      <port>%u</port>\n      <socketType>%s</socketType>\n"
                      "      <username>", v->port, v->ssl ? "SSL" : "plain") < 0
        || esc(b, user) < 0
        || buf_printf(b, "</username>\n      <authentication>password-cleartext"
                      "</authentication>\n    </%s>\n", tag) < 0) {
        return -1;
    }
    return 0;
}

int autoconf_thunderbird(const struct sheet *s, struct buf *b)
{
    struct server in[2], out[2];
    size_t nin = incoming(s, in), nout = outgoing(s, out), i;
    const char *user = s->addr ? s->addr : "%EMAILADDRESS%";
    if (buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n"
                 "  <emailProvider id=\"") < 0 || esc(b, s->domain) < 0
        || buf_puts(b, "\">\n    <domain>") < 0 || esc(b, s->domain) < 0
        || buf_puts(b, "</domain>\n    <displayName>") < 0 || esc(b, s->domain) < 0
        || buf_puts(b, "</displayName>\n    <displayShortName>") < 0 || esc(b, s->domain) < 0
        || buf_puts(b, "</displayShortName>\n") < 0) {
        return -1;
    }
    for (i = 0; i < nin; i++) {
        if (tb_server(b, "incomingServer", "pop3", &in[i], user) < 0) {
            return -1;
        }
    }
    for (i = 0; i < nout; i++) {
        if (tb_server(b, "outgoingServer", "smtp", &out[i], user) < 0) {
            return -1;
        }
    }
    return buf_puts(b, "  </emailProvider>\n</clientConfig>\n");
}

static int ad_protocol(struct buf *b, const char *type, const struct server *v, const char *user)
{
    if (buf_printf(b, "        <Protocol>\n          <Type>%s</Type>\n          <Server>", type) < 0
        || host(b, v) < 0
        || buf_printf(b, "</Server>\n          <Port>%u</Port>\n          <LoginName>", v->port) < 0
        || esc(b, user) < 0
        || buf_printf(b, "</LoginName>\n          <DomainRequired>off</DomainRequired>\n"
                      "          <SPA>off</SPA>\n          <SSL>%s</SSL>\n"
                      "          <AuthRequired>on</AuthRequired>\n        </Protocol>\n",
                      v->ssl ? "on" : "off") < 0) {
        return -1;
    }
    return 0;
}

int autoconf_autodiscover(const struct sheet *s, struct buf *b)
{
    struct server in[2], out[2];
    incoming(s, in);
    outgoing(s, out);
    if (buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Autodiscover xmlns=\"http://"
                 "schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n"
                 "  <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/"
                 "responseschema/2006a\">\n    <Account>\n      <AccountType>email</AccountType>\n"
                 "      <Action>settings</Action>\n") < 0
        || ad_protocol(b, "POP3", &in[0], s->addr) < 0
        || ad_protocol(b, "SMTP", &out[0], s->addr) < 0) {
        return -1;
    }
    return buf_puts(b, "    </Account>\n  </Response>\n</Autodiscover>\n");
}

static int plist_str(struct buf *b, const char *key, const char *pre, const char *val)
{
    if (buf_printf(b, "      <key>%s</key>\n      <string>%s", key, pre) < 0 || esc(b, val) < 0) {
        return -1;
    }
    return buf_puts(b, "</string>\n");
}

static int plist_int(struct buf *b, const char *key, unsigned v)
{
    return buf_printf(b, "      <key>%s</key>\n      <integer>%u</integer>\n", key, v);
}

static int plist_bool(struct buf *b, const char *key, int v)
{
    return buf_printf(b, "      <key>%s</key>\n      <%s/>\n", key, v ? "true" : "false");
}

/* The com.apple.mail.managed payload's server keys for one direction. */
static int mc_server(struct buf *b, const char *dir, const struct server *v, const char *user)
{
    char k[64];
    int r = 0;
    r |= str_fmt(k, sizeof k, "%sMailServerHostName", dir);
    r |= plist_str(b, k, v->prefix, v->host);
    r |= str_fmt(k, sizeof k, "%sMailServerPortNumber", dir);
    r |= plist_int(b, k, v->port);
    r |= str_fmt(k, sizeof k, "%sMailServerUseSSL", dir);
    r |= plist_bool(b, k, v->ssl);
    r |= str_fmt(k, sizeof k, "%sMailServerUsername", dir);
    r |= plist_str(b, k, "", user);
    r |= str_fmt(k, sizeof k, "%sMailServerAuthentication", dir);
    r |= plist_str(b, k, "", "EmailAuthPassword");
    return r ? -1 : 0;
}

int autoconf_mobileconfig(const struct sheet *s, const char *uuid_profile,
                          const char *uuid_mail, struct buf *b)
{
    struct server in[2], out[2];
    int r = 0;
    incoming(s, in);
    outgoing(s, out);
    r |= buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC "
                  "\"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
                  "<plist version=\"1.0\">\n<dict>\n  <key>PayloadContent</key>\n  <array>\n"
                  "    <dict>\n");
    r |= plist_str(b, "EmailAccountDescription", "", s->addr);
    r |= plist_str(b, "EmailAccountType", "", "EmailTypePOP");
    r |= plist_str(b, "EmailAddress", "", s->addr);
    r |= mc_server(b, "Incoming", &in[0], s->addr);
    r |= mc_server(b, "Outgoing", &out[0], s->addr);
    r |= plist_bool(b, "OutgoingPasswordSameAsIncomingPassword", 1);
    r |= plist_str(b, "PayloadDisplayName", "", s->addr);
    r |= plist_str(b, "PayloadIdentifier", "jp.yubin.mail.", s->addr);
    r |= plist_str(b, "PayloadType", "", "com.apple.mail.managed");
    r |= plist_str(b, "PayloadUUID", "", uuid_mail);
    r |= plist_int(b, "PayloadVersion", 1);
    r |= buf_puts(b, "    </dict>\n  </array>\n");
    r |= plist_str(b, "PayloadDisplayName", "", s->addr);
    r |= plist_str(b, "PayloadIdentifier", "jp.yubin.profile.", s->addr);
    r |= plist_str(b, "PayloadType", "", "Configuration");
    r |= plist_str(b, "PayloadUUID", "", uuid_profile);
    r |= plist_int(b, "PayloadVersion", 1);
    r |= buf_puts(b, "</dict>\n</plist>\n");
    return r ? -1 : 0;
}
