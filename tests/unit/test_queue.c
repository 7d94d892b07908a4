/* SPDX-License-Identifier: MIT */
/* Unit tests of queue.c on a temporary database, with the XMPP side and the
 * sends (struct queue_ops) faked. Inbox: rows are written in id order and
 * each domain's rows are closed by a barrier ping to that domain; an answer
 * confirms them (rows with content stay, confirmed), no answer in time
 * holds them, a disconnect sends them again after the reconnect. Outbox:
 * order per contact and the token bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "queue.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

#define TEST_MAX 16

/* A barrier ping the queue asked for, not answered yet. */
struct test_ping {
    char domain[64];
    queue_done_fn done;
    void *arg;
};

/* What the fake XMPP side saw. */
static struct {
    char written[TEST_MAX][64]; /* recipients, in write order */
    int nwritten;
    struct test_ping ping[TEST_MAX];
    int nping;
    int sends;                /* outbox rows may be sent */
    long long sent[TEST_MAX]; /* their ids, in send order */
    int nsent;
    struct store *st; /* every row sent or written must be durable */
} fake;

static void fake_send(const struct store_outbox *o, void *arg)
{
    if (!fake.sends)
        fail_msg("no outbox row was queued");
    assert_true(store_outbox_durable(fake.st, o->id));
    assert_true(fake.nsent < TEST_MAX);
    fake.sent[fake.nsent++] = o->id;
}

static void fake_write(const struct store_inbox *in, int stamp, void *arg)
{
    long long fresh = store_fresh_min(fake.st, STORE_FRESH_INBOX);

    assert_true(fresh == 0 || in->id < fresh);
    assert_true(fake.nwritten < TEST_MAX);
    snprintf(fake.written[fake.nwritten++], sizeof(fake.written[0]), "%s",
             in->recipient);
}

static void fake_ping(const char *domain, long long timeout_ms,
                      queue_done_fn done, void *done_arg)
{
    struct test_ping *p = &fake.ping[fake.nping++];

    assert_true(fake.nping <= TEST_MAX);
    snprintf(p->domain, sizeof(p->domain), "%s", domain);
    p->done = done;
    p->arg = done_arg;
}

static void fake_ask_ready(long long timeout_ms, queue_done_fn done,
                           void *done_arg)
{
    done(1, done_arg);
}

static void fake_probe(const char *jid)
{
}

static int fake_backlog(void)
{
    return 0;
}

static const char *fake_server_domain(void)
{
    return "example.org";
}

struct fixture {
    char dir[64];
    char path[96];
    struct store *st;
};

static int test_setup_sync(void **state, const char *synchronous)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    struct queue_ops ops = {.send = fake_send,
                            .write = fake_write,
                            .ping = fake_ping,
                            .ask_ready = fake_ask_ready,
                            .probe = fake_probe,
                            .backlog = fake_backlog,
                            .server_domain = fake_server_domain};

    memset(&fake, 0, sizeof(fake));
    snprintf(f->dir, sizeof(f->dir), "/tmp/ferry-queue-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/ferry.db", f->dir);
    f->st = store_open(f->path, synchronous);
    assert_non_null(f->st);
    fake.st = f->st;
    loop_init();
    queue_init(f->st, 80, &ops);
    *state = f;
    return 0;
}

static int test_setup(void **state)
{
    return test_setup_sync(state, "normal");
}

/* store.synchronous = full: the WAL syncer's thread makes commits durable */
static int test_setup_full(void **state)
{
    return test_setup_sync(state, "full");
}

static void test_unlink(const char *path, const char *suffix)
{
    char *p = xasprintf("%s%s", path, suffix);

    unlink(p);
    free(p);
}

static int test_teardown(void **state)
{
    struct fixture *f = *state;

    queue_free();
    loop_free();
    store_close(f->st);
    test_unlink(f->path, "");
    test_unlink(f->path, "-wal");
    test_unlink(f->path, "-shm");
    assert_int_equal(rmdir(f->dir), 0);
    free(f);
    return 0;
}

/* Runs what the loop has ready (the deferred calls), without waiting. */
static void test_turn(void)
{
    event_base_loop(loop_base(), EVLOOP_NONBLOCK);
}

/* The rows of three recipients of two domains, then a connect: all are
 * written in id order, and each domain gets one ping. */
static void test_connect(struct fixture *f)
{
    assert_int_equal(store_txn_begin(f->st), 0);
    assert_true(store_inbox_add(f->st, 0, "alice@example.org",
                                "<message id='m1'/>", "m1") > 0);
    assert_true(store_inbox_add(f->st, 0, "bob@other.org", "<message id='m2'/>",
                                "m2") > 0);
    assert_true(store_inbox_add(f->st, 0, "carol@example.org", "<presence/>",
                                NULL) > 0);
    test_turn(); /* committed; the queue is not connected yet */
    assert_int_equal(fake.nwritten, 0);
    queue_xmpp_state(1);
    test_turn();
    assert_int_equal(fake.nwritten, 3);
    assert_string_equal(fake.written[0], "alice@example.org");
    assert_string_equal(fake.written[1], "bob@other.org");
    assert_string_equal(fake.written[2], "carol@example.org");
    assert_int_equal(fake.nping, 2);
}

/* The ping to domain, which must have been asked for. */
static struct test_ping *test_ping_to(const char *domain)
{
    int i;

    for (i = 0; i < fake.nping; i++)
        if (strcmp(fake.ping[i].domain, domain) == 0)
            return &fake.ping[i];
    fail_msg("no ping to %s", domain);
    return NULL;
}

/* Answers the pings asked for from the first'th on (the queue frees each
 * with its answer). */
static void test_answer_pings(int first)
{
    int i;

    for (i = first; i < fake.nping; i++)
        fake.ping[i].done(1, fake.ping[i].arg);
    test_turn();
}

/* An answer confirms only its domain's rows; no answer in time holds the
 * other domain's. */
static void test_queue_barrier(void **state)
{
    struct fixture *f = *state;
    struct test_ping *p;

    test_connect(f);
    assert_int_equal(store_inbox_count(f->st), 3);
    p = test_ping_to("example.org");
    p->done(1, p->arg);
    test_turn();
    assert_int_equal(store_inbox_count(f->st), 1); /* bob's */
    assert_int_equal(store_inbox_held(f->st), 0);
    p = test_ping_to("other.org");
    p->done(0, p->arg);
    test_turn();
    assert_int_equal(store_inbox_count(f->st), 0);
    assert_int_equal(store_inbox_held(f->st), 1);
    assert_int_equal(fake.nwritten, 3); /* held: not written again yet */
}

/* A disconnect confirms nothing: after the reconnect every row goes
 * again, with a new ping per domain. */
static void test_queue_disconnect(void **state)
{
    struct fixture *f = *state;
    struct test_ping *p;

    test_connect(f);
    p = test_ping_to("example.org");
    queue_xmpp_state(0);
    p->done(-1, p->arg);
    p = test_ping_to("other.org");
    p->done(-1, p->arg);
    test_turn();
    assert_int_equal(store_inbox_count(f->st), 3);
    queue_xmpp_state(1);
    test_turn();
    assert_int_equal(fake.nwritten, 6);
    assert_int_equal(fake.nping, 4);
    test_answer_pings(2);
}

/* Confirmed rows are kept (for bounces) but never written again: after a
 * reconnect the cursor moves past them, and a row added later still goes,
 * once. */
static void test_queue_settled_skipped(void **state)
{
    struct fixture *f = *state;
    struct test_ping *p;

    test_connect(f);
    p = test_ping_to("example.org");
    p->done(1, p->arg);
    p = test_ping_to("other.org");
    p->done(1, p->arg);
    test_turn();
    assert_int_equal(store_inbox_count(f->st), 0);
    assert_int_equal(store_inbox_last_id(f->st), 2); /* bob's */
    queue_xmpp_state(0);
    queue_xmpp_state(1);
    test_turn();
    assert_int_equal(fake.nwritten, 3);
    assert_int_equal(store_txn_begin(f->st), 0);
    assert_true(store_inbox_add(f->st, 0, "dave@example.org",
                                "<message id='m4'/>", "m4") > 0);
    test_turn();
    assert_int_equal(fake.nwritten, 4);
    assert_string_equal(fake.written[3], "dave@example.org");
    test_turn();
    assert_int_equal(fake.nwritten, 4);
    test_answer_pings(2);
}

/* A turn's waiter: counts its calls and the syncs made before it ran. */
static int test_waited, test_waited_ok;
static long long test_waited_syncs;

static void test_waiter(int ok, void *arg)
{
    test_waited++;
    test_waited_ok = ok;
    test_waited_syncs = store_sync_calls(arg);
}

/* With the WAL syncer, nothing a commit holds leaves before the commit is
 * synced: the outbox row is not sent and the inbox row not written (the
 * fakes check each against the store's durable bound), the turn's waiter
 * runs after an fdatasync; then both go. */
static void test_queue_full_sync(void **state)
{
    struct fixture *f = *state;
    long long acc, c, o;
    int i;

    fake.sends = 1;
    queue_xmpp_state(1);
    acc = store_account_upsert(f->st, "alice@example.org", "cloudapi", "1001",
                               "tok", NULL);
    assert_int_equal(store_txn_begin(f->st), 0);
    assert_int_equal(store_sync_calls(f->st) >= 0, 1); /* the syncer runs */
    c = store_contact_ensure(f->st, acc, "4915100000001", "+4915100000001",
                             NULL, NULL);
    o = store_outbox_add(f->st, acc, c, 0, "text", "{}");
    assert_true(acc > 0 && c > 0 && o > 0);
    assert_false(store_outbox_durable(f->st, o)); /* not even committed */
    assert_true(store_inbox_add(f->st, acc, "alice@example.org",
                                "<message id='m1'/>", "m1") > 0);
    assert_int_equal(store_txn_after(f->st, test_waiter, f->st), 0);
    test_waited = 0;
    for (i = 0;
         i < 200 && (test_waited == 0 || fake.nsent == 0 || fake.nwritten == 0);
         i++) {
        test_turn();
        if (test_waited == 0 || fake.nsent == 0 || fake.nwritten == 0)
            event_base_loop(loop_base(), EVLOOP_ONCE);
    }
    assert_int_equal(test_waited, 1);
    assert_int_equal(test_waited_ok, 1);
    assert_true(test_waited_syncs >= 1);
    assert_true(store_txn_durable(f->st));
    assert_true(store_outbox_durable(f->st, o));
    assert_int_equal(fake.nsent, 1);
    assert_int_equal(fake.sent[0], o);
    assert_int_equal(fake.nwritten, 1);
    queue_out_done(o);
    test_answer_pings(0);
}

/* The syncer starts with the first turn; what was committed before it
 * (with synchronous = FULL) counts as synced, so a turn that writes nothing
 * is answered at once: it used to wait for a sync nothing had asked for
 * (a webhook of an unknown number to a quiet gateway got no answer). */
static void test_queue_full_first_turn_writes_nothing(void **state)
{
    struct fixture *f = *state;
    int i;

    assert_true(store_account_upsert(f->st, "alice@example.org", "cloudapi",
                                     "1001", "tok", NULL) > 0);
    assert_int_equal(store_txn_begin(f->st), 0);
    assert_int_equal(store_sync_calls(f->st) >= 0, 1); /* the syncer runs */
    assert_int_equal(store_txn_after(f->st, test_waiter, f->st), 0);
    test_waited = 0;
    for (i = 0; i < 200 && test_waited == 0; i++) {
        struct timeval tv = {0, 10000}; /* a wait that never ends fails */

        test_turn();
        event_base_loopexit(loop_base(), &tv);
        if (test_waited == 0)
            event_base_loop(loop_base(), EVLOOP_ONCE);
    }
    assert_int_equal(test_waited, 1);
    assert_int_equal(test_waited_ok, 1);
    assert_true(store_txn_durable(f->st));
}

/* A pass over an account whose heads are all skipped (here: not due)
 * ends once it has seen each contact, even when the contact it began after
 * has no head left and the account has one contact more than a read
 * holds (it used to slide round the circle forever). */
static void test_queue_read_closes_circle(void **state)
{
    struct fixture *f = *state;
    long long acc, c[18], o[18];
    char wa[32], jid[40];
    int i;

    alarm(20); /* a pass that never ends kills the test (SIGALRM) */
    fake.sends = 1;
    acc = store_account_upsert(f->st, "alice@example.org", "cloudapi", "1001",
                               "tok", NULL);
    assert_int_equal(store_txn_begin(f->st), 0);
    for (i = 0; i < 18; i++) {
        snprintf(wa, sizeof(wa), "49151000000%02d", i);
        snprintf(jid, sizeof(jid), "+%s", wa);
        c[i] = store_contact_ensure(f->st, acc, wa, jid, NULL, NULL);
        assert_true(c[i] > 0);
    }
    o[17] = store_outbox_add(f->st, acc, c[17], 0, "text", "{}");
    test_turn(); /* the pass sends the last contact's row: its cursor */
    assert_int_equal(fake.nsent, 1);
    assert_int_equal(fake.sent[0], o[17]);
    queue_out_done(o[17]); /* that contact has no head left */
    test_turn();
    assert_int_equal(store_txn_begin(f->st), 0);
    for (i = 0; i < 17; i++) { /* 17 contacts wait for a retry far ahead */
        o[i] = store_outbox_add(f->st, acc, c[i], 0, "text", "{}");
        assert_true(o[i] > 0);
        assert_int_equal(
            store_outbox_retry(f->st, o[i], 1, wall_ms() + 3600000, "later"),
            0);
    }
    test_turn(); /* returns: every head was read once */
    alarm(0);
    assert_int_equal(fake.nsent, 1);
    assert_int_equal(store_outbox_count(f->st), 17);
}

/* Outbox: one row in flight per contact, in its order; an account out of
 * tokens is not read until a batch of them is there (one timer), then its
 * next row goes. */
static void test_queue_outbox(void **state)
{
    struct fixture *f = *state;
    long long acc, ca, cb, a1, a2, b1;
    int i;

    fake.sends = 1;
    queue_set_throughput(2); /* a bucket of 2 tokens, 2 per second */
    acc = store_account_upsert(f->st, "alice@example.org", "cloudapi", "1001",
                               "tok", NULL);
    assert_true(acc > 0);
    assert_int_equal(store_txn_begin(f->st), 0);
    ca = store_contact_ensure(f->st, acc, "4915100000001", "+4915100000001",
                              NULL, NULL);
    cb = store_contact_ensure(f->st, acc, "4915100000002", "+4915100000002",
                              NULL, NULL);
    a1 = store_outbox_add(f->st, acc, ca, 0, "text", "{}");
    a2 = store_outbox_add(f->st, acc, ca, 0, "text", "{}");
    b1 = store_outbox_add(f->st, acc, cb, 0, "text", "{}");
    assert_true(ca > 0 && cb > 0 && a1 > 0 && a2 > 0 && b1 > 0);
    test_turn(); /* committed: the queue reads the account */
    assert_int_equal(fake.nsent, 2);
    assert_int_equal(fake.sent[0], a1);
    assert_int_equal(fake.sent[1], b1);
    assert_int_equal(queue_out_inflight(), 2);
    queue_out_done(a1);
    test_turn(); /* a2 may go now, but the bucket is empty */
    assert_int_equal(fake.nsent, 2);
    assert_int_equal(queue_out_inflight(), 1);
    /* the tokens' timer (about 1 s; the checkpoint's fires first), then
     * the pass it asks for */
    for (i = 0; i < 10 && fake.nsent == 2; i++) {
        event_base_loop(loop_base(), EVLOOP_ONCE);
        test_turn();
    }
    assert_int_equal(fake.nsent, 3);
    assert_int_equal(fake.sent[2], a2);
    queue_out_done(b1);
    queue_out_done(a2);
    test_turn();
    assert_int_equal(queue_out_inflight(), 0);
    assert_int_equal(store_outbox_count(f->st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_queue_barrier, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_queue_outbox, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_queue_settled_skipped, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_queue_disconnect, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_queue_full_sync, test_setup_full,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(
            test_queue_full_first_turn_writes_nothing, test_setup_full,
            test_teardown),
        cmocka_unit_test_setup_teardown(test_queue_read_closes_circle,
                                        test_setup, test_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
