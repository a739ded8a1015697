/* A background thread that runs storage jobs (fsync, unlink) off the broker
 * loop, so that the loop never waits for the disk.
 *
 * The loop submits jobs; the worker runs each job's run() in submission
 * order and queues it as done; the worker's notify fd becomes readable and
 * the loop calls storage_worker_reap(), which calls each done job's done()
 * on the loop thread, in submission order. Jobs cross threads only through
 * these two queues. */
#ifndef RILL_STORAGE_WORKER_H
#define RILL_STORAGE_WORKER_H

struct storage_job {
    struct storage_job *next;
    /* Runs on the worker thread; its return value lands in result. */
    int (*run)(struct storage_job *job);
    /* Runs on the loop thread once run() has finished; owns the job then. */
    void (*done)(struct storage_job *job);
    int result;
};

struct storage_worker;

/* Starts a worker thread. Returns 0 or RILL_ERR_*. */
int storage_worker_start(const char *name, struct storage_worker **out);

/* Queues job; the worker owns it until done() is called. */
void storage_worker_submit(struct storage_worker *w, struct storage_job *job);

/* A descriptor that is readable while done jobs wait to be reaped. */
int storage_worker_notify_fd(const struct storage_worker *w);

/* Calls done() for every finished job, in submission order. Returns how
 * many were reaped. */
int storage_worker_reap(struct storage_worker *w);

/* Waits until every submitted job has run, then reaps them. */
void storage_worker_drain(struct storage_worker *w);

/* Drains, stops and frees the worker. NULL is allowed. */
void storage_worker_stop(struct storage_worker *w);

#endif
