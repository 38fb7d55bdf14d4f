// Threads and futexes: workers increment a mutex-protected counter, wait on a condition variable,
// and are joined; thread ids differ; a thread-local variable stays per thread.
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long counter = 0;
static int go = 0;
static __thread int tls_value = 0;
static int distinct_tids = 1;
static pid_t main_tid;

static void *worker(void *arg) {
    long id = (long)arg;
    tls_value = (int)id * 10;
    if (syscall(SYS_gettid) == main_tid) distinct_tids = 0;
    pthread_mutex_lock(&lock);
    while (!go) pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < 10000; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
    }
    return (void *)(long)(tls_value + 1);
}

int main(void) {
    main_tid = syscall(SYS_gettid);
    pthread_t t[4];
    for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    usleep(20000);
    pthread_mutex_lock(&lock);
    go = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    long sum = 0;
    for (int i = 0; i < 4; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        sum += (long)ret;
    }
    printf("counter=%ld sum=%ld distinct=%d tls_main=%d\n", counter, sum, distinct_tids, tls_value);
    return 0;
}
