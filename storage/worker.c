#include "storage/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/rill_error.h"

struct storage_worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;      /* signals new work or stop */
    pthread_cond_t idle;      /* signals that the todo queue emptied */
    struct storage_job *todo_head, *todo_tail;
    struct storage_job *done_head, *done_tail;
    int running_jobs;
    bool stopping;
    int notify_fd;            /* eventfd, written once per batch of done jobs */
    char name[32];
};

static void worker_queue_push(struct storage_job **head, struct storage_job **tail,
                              struct storage_job *job)
{
    job->next = NULL;
    if (*tail != NULL)
        (*tail)->next = job;
    else
        *head = job;
    *tail = job;
}

static void *worker_main(void *arg)
{
    struct storage_worker *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->todo_head == NULL && !w->stopping)
            pthread_cond_wait(&w->wake, &w->lock);
        if (w->todo_head == NULL && w->stopping)
            break;
        struct storage_job *batch = w->todo_head;
        w->todo_head = w->todo_tail = NULL;
        w->running_jobs = 1;
        pthread_mutex_unlock(&w->lock);

        struct storage_job *done_head = NULL, *done_tail = NULL;
        while (batch != NULL) {
            struct storage_job *job = batch;
            batch = batch->next;
            job->result = job->run(job);
            worker_queue_push(&done_head, &done_tail, job);
        }

        pthread_mutex_lock(&w->lock);
        if (w->done_tail != NULL)
            w->done_tail->next = done_head;
        else
            w->done_head = done_head;
        w->done_tail = done_tail;
        w->running_jobs = 0;
        uint64_t one = 1;
        ssize_t n = write(w->notify_fd, &one, sizeof(one));
        (void)n; /* an eventfd write only fails on overflow, then it is readable anyway */
        if (w->todo_head == NULL)
            pthread_cond_broadcast(&w->idle);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int storage_worker_start(const char *name, struct storage_worker **out)
{
    struct storage_worker *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return RILL_ERR_NOMEM;
    snprintf(w->name, sizeof(w->name), "%s", name);
    w->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->notify_fd < 0) {
        free(w);
        return rill_err_from_errno(errno);
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->idle, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        close(w->notify_fd);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
        pthread_cond_destroy(&w->idle);
        free(w);
        return RILL_ERR_NOMEM;
    }
    pthread_setname_np(w->thread, w->name);
    *out = w;
    return RILL_OK;
}

void storage_worker_submit(struct storage_worker *w, struct storage_job *job)
{
    pthread_mutex_lock(&w->lock);
    worker_queue_push(&w->todo_head, &w->todo_tail, job);
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

int storage_worker_notify_fd(const struct storage_worker *w)
{
    return w->notify_fd;
}

int storage_worker_reap(struct storage_worker *w)
{
    uint64_t count;
    ssize_t n = read(w->notify_fd, &count, sizeof(count));
    (void)n; /* EAGAIN just means nothing was signalled since the last reap */
    pthread_mutex_lock(&w->lock);
    struct storage_job *job = w->done_head;
    w->done_head = w->done_tail = NULL;
    pthread_mutex_unlock(&w->lock);
    int reaped = 0;
    while (job != NULL) {
        struct storage_job *next = job->next;
        job->done(job);
        job = next;
        reaped++;
    }
    return reaped;
}

void storage_worker_drain(struct storage_worker *w)
{
    /* done() callbacks may submit follow-up jobs: repeat until quiet. */
    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (w->todo_head != NULL || w->running_jobs)
            pthread_cond_wait(&w->idle, &w->lock);
        pthread_mutex_unlock(&w->lock);
        if (storage_worker_reap(w) == 0)
            break;
    }
}

void storage_worker_stop(struct storage_worker *w)
{
    if (w == NULL)
        return;
    storage_worker_drain(w);
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    storage_worker_reap(w);
    close(w->notify_fd);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->idle);
    free(w);
}
