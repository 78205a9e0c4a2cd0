/* test_engine_sessions.h -- full SMTP sessions modelled on what real MTAs
 * send (greetings, multi-line EHLO replies, enhanced codes, queue ids),
 * shared by the golden and split-invariance tests of test_engine.c. */
#ifndef SMTPSCOPE_TEST_ENGINE_SESSIONS_H
#define SMTPSCOPE_TEST_ENGINE_SESSIONS_H

#include "event_log.h"

/* Postfix with PIPELINING: MAIL/RCPT/RCPT/DATA in one segment, one RCPT
 * refused, a dot-stuffed line, QUIT in the segment of the final dot. */
static const tx_step sess_postfix[] = {
    TX_S("220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n"),
    TX_C("EHLO client.example.com\r\n"),
    TX_S("250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
         "250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
         "250 CHUNKING\r\n"),
    TX_C("MAIL FROM:<alice@example.com> SIZE=412\r\nRCPT TO:<bob@example.org>\r\n"
         "RCPT TO:<nobody@example.org>\r\nDATA\r\n"),
    TX_S("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <nobody@example.org>: Recipient address "
         "rejected: User unknown in local recipient table\r\n354 End data with <CR><LF>.<CR><LF>\r\n"),
    TX_C("From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: Quarterly\r\n report\r\n"
         "Message-ID: <20261122.1@example.com>\r\n\r\nHello Bob,\r\n..dot-stuffed line\r\n.\r\nQUIT\r\n"),
    TX_S("250 2.0.0 Ok: queued as 4Xk9Tq1BZlz3wT1\r\n221 2.0.0 Bye\r\n"),
    TX_END,
};

/* Exim with CHUNKING: BDAT LAST with its chunk in the command's segment,
 * Exim's two-line reply to the last chunk. */
static const tx_step sess_exim[] = {
    TX_S("220 mx.example.net ESMTP Exim 4.96 Sun, 22 Nov 2026 13:00:00 +0000\r\n"),
    TX_C("EHLO laptop.example.com\r\n"),
    TX_S("250-mx.example.net Hello laptop.example.com [192.0.2.10]\r\n250-SIZE 52428800\r\n"
         "250-8BITMIME\r\n250-PIPELINING\r\n250-PIPE_CONNECT\r\n250-CHUNKING\r\n250-PRDR\r\n250 HELP\r\n"),
    TX_C("MAIL FROM:<carol@example.com> SIZE=80\r\n"),
    TX_S("250 OK\r\n"),
    TX_C("RCPT TO:<dave@example.net>\r\n"),
    TX_S("250 Accepted\r\n"),
    TX_C("BDAT 80 LAST\r\nSubject: chunked\r\nMessage-ID: <c1@example.com>\r\n\r\n"
         "BDAT 5\r\nQUIT\r\n. not an end\r\n\r\n"),
    TX_S("250- 80 byte chunk, total 80\r\n250 OK id=1wXyZa-00012A-Bc\r\n"),
    TX_C("QUIT\r\n"),
    TX_S("221 mx.example.net closing connection\r\n"),
    TX_END,
};

/* Sendmail: null reverse-path, DSN parameters, Sendmail's queue id, RSET. */
static const tx_step sess_sendmail[] = {
    TX_S("220 smtp.example.edu ESMTP Sendmail 8.17.1/8.17.1; Sun, 22 Nov 2026 13:05:12 GMT\r\n"),
    TX_C("EHLO relay.example.com\r\n"),
    TX_S("250-smtp.example.edu Hello relay.example.com [198.51.100.7], pleased to meet you\r\n"
         "250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n"
         "250-ETRN\r\n250-AUTH DIGEST-MD5 CRAM-MD5\r\n250-DELIVERBY\r\n250 HELP\r\n"),
    TX_C("MAIL FROM:<> BODY=8BITMIME\r\n"),
    TX_S("250 2.1.0 <>... Sender ok\r\n"),
    TX_C("RCPT TO:<postmaster@example.edu> NOTIFY=NEVER\r\n"),
    TX_S("250 2.1.5 <postmaster@example.edu>... Recipient ok\r\n"),
    TX_C("DATA\r\n"),
    TX_S("354 Enter mail, end with \".\" on a line by itself\r\n"),
    TX_C("Subject: Returned mail: see transcript for details\r\n\r\nThe original message was "
         "received.\r\n"),
    TX_C(".\r\n"),
    TX_S("250 2.0.0 5AMD5C3x012345 Message accepted for delivery\r\n"),
    TX_C("RSET\r\n"),
    TX_S("250 2.0.0 Reset state\r\n"),
    TX_C("QUIT\r\n"),
    TX_S("221 2.0.0 smtp.example.edu closing connection\r\n"),
    TX_END,
};

/* OpenSMTPD, one command per segment, body split over segments. */
static const tx_step sess_opensmtpd[] = {
    TX_S("220 mail.example.io ESMTP OpenSMTPD\r\n"),
    TX_C("EHLO [192.0.2.1]\r\n"),
    TX_S("250-mail.example.io Hello [192.0.2.1] [192.0.2.1], pleased to meet you\r\n250-8BITMIME\r\n"
         "250-ENHANCEDSTATUSCODES\r\n250-SIZE 36700160\r\n250-DSN\r\n250 HELP\r\n"),
    TX_C("MAIL FROM:<eve@example.io>\r\n"),
    TX_S("250 2.0.0 Ok\r\n"),
    TX_C("RCPT TO:<frank@example.io>\r\n"),
    TX_S("250 2.1.5 Destination address valid: Recipient ok\r\n"),
    TX_C("DATA\r\n"),
    TX_S("354 Enter mail, end with \".\" on a line by itself\r\n"),
    TX_C("Message-Id: <x7@example.io>\r\nSubject: =?UTF-8?Q?caf=C3=A9?=\r\n\r\nline one\r\n"),
    TX_C("line two\r\n"),
    TX_C(".\r\n"),
    TX_S("250 2.0.0 a1b2c3d4 Message accepted for delivery\r\n"),
    TX_C("QUIT\r\n"),
    TX_S("221 2.0.0 Bye\r\n"),
    TX_END,
};

/* Exchange with CHUNKING: two BDAT chunks, the id in InternalId=. */
static const tx_step sess_exchange[] = {
    TX_S("220 EXCH01.corp.example.com Microsoft ESMTP MAIL Service ready at Sun, 22 Nov 2026 "
         "13:10:00 +0000\r\n"),
    TX_C("EHLO gateway.example.com\r\n"),
    TX_S("250-EXCH01.corp.example.com Hello [203.0.113.5]\r\n250-SIZE 37748736\r\n250-PIPELINING\r\n"
         "250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250-X-ANONYMOUSTLS\r\n250-AUTH NTLM\r\n"
         "250-X-EXPS GSSAPI NTLM\r\n250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250-XRDST\r\n"
         "250 XSHADOWREQUEST\r\n"),
    TX_C("MAIL FROM:<grace@example.com> SIZE=54 BODY=BINARYMIME\r\nRCPT TO:<heidi@corp.example.com>\r\n"),
    TX_S("250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n"),
    TX_C("BDAT 35\r\nSubject: two chunks\r\n\r\nfirst part\r\n"),
    TX_S("250 2.0.0 CHUNK received OK\r\n"),
    TX_C("BDAT 19 LAST\r\nsecond part, done\r\n"),
    TX_S("250 2.6.0 <E1A2B3C4@EXCH01.corp.example.com> [InternalId=1234567890123, "
         "Hostname=EXCH01.corp.example.com] 1840 bytes in 0.052, 34.512 KB/sec Queued mail for "
         "delivery\r\n"),
    TX_C("QUIT\r\n"),
    TX_S("221 2.0.0 Service closing transmission channel\r\n"),
    TX_END,
};

/* Gmail: a deferred (4xx) recipient, then a message, Gmail's id. */
static const tx_step sess_gmail[] = {
    TX_S("220 mx.google.com ESMTP a1si2345678qkb.123 - gsmtp\r\n"),
    TX_C("EHLO mail.example.com\r\n"),
    TX_S("250-mx.google.com at your service, [192.0.2.55]\r\n250-SIZE 157286400\r\n250-8BITMIME\r\n"
         "250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n"),
    TX_C("MAIL FROM:<ivan@example.com> SIZE=64\r\nRCPT TO:<judy@gmail.com>\r\nRCPT TO:<busy@gmail.com>\r\n"),
    TX_S("250 2.1.0 OK a1si2345678qkb.123 - gsmtp\r\n250 2.1.5 OK a1si2345678qkb.123 - gsmtp\r\n"
         "452-4.2.2 The recipient's inbox is out of storage space. Please direct the\r\n"
         "452-4.2.2 recipient to\r\n452 4.2.2  https://support.google.com/mail/?p=OverQuotaTemp "
         "a1si2345678qkb.123 - gsmtp\r\n"),
    TX_C("DATA\r\n"),
    TX_S("354  Go ahead a1si2345678qkb.123 - gsmtp\r\n"),
    TX_C("Subject: hi\r\n\r\nhello\r\n.\r\n"),
    TX_S("250 2.0.0 OK  1763816400 a1si2345678qkb.123 - gsmtp\r\n"),
    TX_C("QUIT\r\n"),
    TX_S("221 2.0.0 closing connection a1si2345678qkb.123 - gsmtp\r\n"),
    TX_END,
};

/* Gmail again, going to TLS: afterwards only bytes are counted. */
static const tx_step sess_starttls[] = {
    TX_S("220 mx.google.com ESMTP b2si3456789qkc.45 - gsmtp\r\n"),
    TX_C("EHLO mail.example.com\r\n"),
    TX_S("250-mx.google.com at your service, [192.0.2.55]\r\n250-SIZE 157286400\r\n250-8BITMIME\r\n"
         "250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n"),
    TX_C("STARTTLS\r\n"),
    TX_S("220 2.0.0 Ready to start TLS\r\n"),
    TX_C("\x16\x03\x01\x00\x30\x01\x00\x00\x2c\x03\x03QUIT\r\nMAIL FROM:<x@y>\r\n"),
    TX_S("\x16\x03\x03\x00\x40\x02\x00\x00\x3c\x03\x03\r\n500 not a reply\r\n"),
    TX_END,
};

/* Submission with AUTH LOGIN (Postfix on 587, after the TLS it would use). */
static const tx_step sess_submission[] = {
    TX_S("220 smtp.example.org ESMTP Postfix\r\n"),
    TX_C("EHLO [10.0.0.7]\r\n"),
    TX_S("250-smtp.example.org\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-AUTH PLAIN LOGIN\r\n"
         "250-AUTH=PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"),
    TX_C("AUTH LOGIN\r\n"),
    TX_S("334 VXNlcm5hbWU6\r\n"),
    TX_C("a2VuQGV4YW1wbGUub3Jn\r\n"),
    TX_S("334 UGFzc3dvcmQ6\r\n"),
    TX_C("czNjcjN0LXBhc3M=\r\n"),
    TX_S("235 2.7.0 Authentication successful\r\n"),
    TX_C("MAIL FROM:<ken@example.org>\r\nRCPT TO:<lena@example.net>\r\nDATA\r\n"),
    TX_S("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"),
    TX_C("Subject: lunch?\r\n\r\n.\r\n"),
    TX_S("250 2.0.0 Ok: queued as 4ZbQ8m2Xkqz1\r\n"),
    TX_C("QUIT\r\n"),
    TX_S("221 2.0.0 Bye\r\n"),
    TX_END,
};

#define SESSION(name) { #name, name, G_N_ELEMENTS(name) }
typedef struct tx_session {
    const char    *name;
    const tx_step *steps;
    size_t         n;
} tx_session;

static const tx_session all_sessions[] = {
    SESSION(sess_postfix),   SESSION(sess_exim),  SESSION(sess_sendmail),
    SESSION(sess_opensmtpd), SESSION(sess_exchange), SESSION(sess_gmail),
    SESSION(sess_starttls),  SESSION(sess_submission),
};

#endif
