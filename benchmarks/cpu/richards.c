/* CPU benchmark: the C twin of richards.apy (structs, a function pointer per task kind). */
#include <stdio.h>
#include <stdlib.h>

#define RUNS 8000
#define COUNT 1000
#define DATA_SIZE 4
#define NUM_IDS 6

enum { ID_IDLE, ID_WORKER, ID_HANDLER_A, ID_HANDLER_B, ID_DEVICE_A, ID_DEVICE_B };
enum { KIND_DEVICE, KIND_WORK };
enum { RUNNABLE = 1, SUSPENDED = 2, HELD = 4, SUSPENDED_RUNNABLE = SUSPENDED | RUNNABLE };

struct packet {
    struct packet *link;
    long ident, kind, a1;
    long a2[DATA_SIZE];
};

struct sched;
struct tcb;

struct task {
    struct tcb *(*run)(struct task *self, struct packet *packet);
    struct sched *sched;
    /* the union of the four kinds' state, as in the apy subclasses */
    long seed, count;                 /* idle */
    struct packet *pending;           /* device */
    long destination, value;          /* worker */
    struct packet *work, *devices;    /* handler */
};

struct tcb {
    struct tcb *link;
    long ident, priority, state;
    struct packet *queue;
    struct task *task;
};

struct sched {
    long queue_count, hold_count, current_id;
    struct tcb *blocks[NUM_IDS];
    struct tcb *tasks, *current;
};

static void *alloc(size_t n) {
    void *p = calloc(1, n);
    if (p == NULL) {
        fputs("out of memory\n", stderr);
        exit(1);
    }
    return p;
}

static struct packet *new_packet(struct packet *link, long ident, long kind) {
    struct packet *p = alloc(sizeof *p);
    p->link = link;
    p->ident = ident;
    p->kind = kind;
    return p;
}

static struct packet *append_to(struct packet *self, struct packet *queue) {
    self->link = NULL;
    if (queue == NULL)
        return self;
    struct packet *last = queue;
    while (last->link != NULL)
        last = last->link;
    last->link = self;
    return queue;
}

static struct tcb *tcb_run(struct tcb *t) {
    struct packet *packet = NULL;
    if (t->state == SUSPENDED_RUNNABLE) {
        struct packet *head = t->queue;
        if (head != NULL) {
            packet = head;
            t->queue = head->link;
        }
        t->state = t->queue == NULL ? 0 : RUNNABLE;
    }
    return t->task->run(t->task, packet);
}

static struct tcb *add_packet(struct tcb *t, struct tcb *by, struct packet *packet) {
    if (t->queue == NULL) {
        t->queue = packet;
        t->state |= RUNNABLE;
        if (t->priority > by->priority)
            return t;
    } else {
        t->queue = append_to(packet, t->queue);
    }
    return by;
}

static struct tcb *add_task(struct sched *s, long ident, long priority, struct packet *queue,
                            struct task *task) {
    struct tcb *t = alloc(sizeof *t);
    t->link = s->tasks;
    t->ident = ident;
    t->priority = priority;
    t->queue = queue;
    t->task = task;
    t->state = queue == NULL ? SUSPENDED : SUSPENDED_RUNNABLE;
    s->tasks = t;
    s->current = t;
    s->blocks[ident] = t;
    return t;
}

static void schedule(struct sched *s) {
    struct tcb *t = s->tasks;
    while (t != NULL) {
        if ((t->state & HELD) != 0 || t->state == SUSPENDED) {
            t = t->link;
        } else {
            s->current = t;
            s->current_id = t->ident;
            t = tcb_run(t);
        }
    }
}

static struct tcb *release(struct sched *s, long ident) {
    struct tcb *t = s->blocks[ident];
    if (t == NULL)
        return NULL;
    t->state &= ~HELD;
    return t->priority > s->current->priority ? t : s->current;
}

static struct tcb *hold_current(struct sched *s) {
    s->hold_count += 1;
    s->current->state |= HELD;
    return s->current->link;
}

static struct tcb *suspend_current(struct sched *s) {
    s->current->state |= SUSPENDED;
    return s->current;
}

static struct tcb *send(struct sched *s, struct packet *packet) {
    struct tcb *target = s->blocks[packet->ident];
    if (target == NULL)
        return NULL;
    s->queue_count += 1;
    packet->link = NULL;
    packet->ident = s->current_id;
    return add_packet(target, s->current, packet);
}

static struct tcb *idle_run(struct task *self, struct packet *packet) {
    (void)packet;
    self->count -= 1;
    if (self->count == 0)
        return hold_current(self->sched);
    if ((self->seed & 1) == 0) {
        self->seed = self->seed >> 1;
        return release(self->sched, ID_DEVICE_A);
    }
    self->seed = (self->seed >> 1) ^ 0xD008;
    return release(self->sched, ID_DEVICE_B);
}

static struct tcb *device_run(struct task *self, struct packet *packet) {
    if (packet == NULL) {
        struct packet *pending = self->pending;
        if (pending == NULL)
            return suspend_current(self->sched);
        self->pending = NULL;
        return send(self->sched, pending);
    }
    self->pending = packet;
    return hold_current(self->sched);
}

static struct tcb *worker_run(struct task *self, struct packet *packet) {
    if (packet == NULL)
        return suspend_current(self->sched);
    self->destination = self->destination == ID_HANDLER_A ? ID_HANDLER_B : ID_HANDLER_A;
    packet->ident = self->destination;
    packet->a1 = 0;
    for (int i = 0; i < DATA_SIZE; i++) {
        self->value += 1;
        if (self->value > 26)
            self->value = 1;
        packet->a2[i] = self->value;
    }
    return send(self->sched, packet);
}

static struct tcb *handler_run(struct task *self, struct packet *packet) {
    if (packet != NULL) {
        if (packet->kind == KIND_WORK)
            self->work = append_to(packet, self->work);
        else
            self->devices = append_to(packet, self->devices);
    }
    struct packet *work = self->work;
    if (work != NULL) {
        long count = work->a1;
        if (count < DATA_SIZE) {
            struct packet *device = self->devices;
            if (device != NULL) {
                self->devices = device->link;
                device->a1 = work->a2[count];
                work->a1 = count + 1;
                return send(self->sched, device);
            }
        } else {
            self->work = work->link;
            return send(self->sched, work);
        }
    }
    return suspend_current(self->sched);
}

static struct task *new_task(struct sched *s, struct tcb *(*run)(struct task *, struct packet *)) {
    struct task *t = alloc(sizeof *t);
    t->run = run;
    t->sched = s;
    return t;
}

/* Everything of one simulation lives until its end, then is freed (the apy program's GC
 * reclaims it likewise); the allocations are collected here to free them. */
static void simulate(long *queued, long *held) {
    struct sched *s = alloc(sizeof *s);
    struct task *idle = new_task(s, idle_run);
    idle->seed = 1;
    idle->count = COUNT;
    add_task(s, ID_IDLE, 0, NULL, idle)->state = 0;
    struct packet *w1 = new_packet(NULL, ID_WORKER, KIND_WORK);
    struct packet *w2 = new_packet(w1, ID_WORKER, KIND_WORK);
    struct task *worker = new_task(s, worker_run);
    worker->destination = ID_HANDLER_A;
    add_task(s, ID_WORKER, 1000, w2, worker);
    struct packet *a1 = new_packet(NULL, ID_DEVICE_A, KIND_DEVICE);
    struct packet *a2 = new_packet(a1, ID_DEVICE_A, KIND_DEVICE);
    struct packet *a3 = new_packet(a2, ID_DEVICE_A, KIND_DEVICE);
    struct task *handler_a = new_task(s, handler_run);
    add_task(s, ID_HANDLER_A, 2000, a3, handler_a);
    struct packet *b1 = new_packet(NULL, ID_DEVICE_B, KIND_DEVICE);
    struct packet *b2 = new_packet(b1, ID_DEVICE_B, KIND_DEVICE);
    struct packet *b3 = new_packet(b2, ID_DEVICE_B, KIND_DEVICE);
    struct task *handler_b = new_task(s, handler_run);
    add_task(s, ID_HANDLER_B, 3000, b3, handler_b);
    struct task *dev_a = new_task(s, device_run), *dev_b = new_task(s, device_run);
    add_task(s, ID_DEVICE_A, 4000, NULL, dev_a);
    add_task(s, ID_DEVICE_B, 5000, NULL, dev_b);
    schedule(s);
    *queued = s->queue_count;
    *held = s->hold_count;
    struct packet *packets[] = {w1, w2, a1, a2, a3, b1, b2, b3};
    for (size_t i = 0; i < sizeof packets / sizeof packets[0]; i++)
        free(packets[i]);
    for (int i = 0; i < NUM_IDS; i++) {
        free(s->blocks[i]->task);
        free(s->blocks[i]);
    }
    free(s);
}

int main(int argc, char **argv) {
    long runs = argc > 1 ? atol(argv[1]) : RUNS;
    long queued = 0, held = 0;
    for (long i = 0; i < runs; i++) {
        long q, h;
        simulate(&q, &h);
        queued += q;
        held += h;
    }
    printf("%ld runs: queued %ld packets, held %ld times\n", runs, queued, held);
    return 0;
}
