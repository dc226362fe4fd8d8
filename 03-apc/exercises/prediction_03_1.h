/* Exercise 03.1 (predict): what does one alertable wait run?
 *
 * Some receives have finished at once, so as many completion routines wait in the thread's
 * APC queue: `queued` of them (the checker tries two numbers, different each run). The
 * thread then makes two calls, each with a timeout of `timeout_ms` (from 300 to 700, also
 * different each run):
 *
 *     Sleep(timeout_ms);           first: not alertable
 *     SleepEx(timeout_ms, TRUE);   then:  alertable
 *
 * Replace each (-1), "not answered yet", with your formula (a C expression of those names),
 * then run ./tutorial check 03.1 */
#ifndef PREDICTION_03_1_H
#define PREDICTION_03_1_H

/* How many of the routines have run when Sleep returns? */
#define PREDICTED_RUN_DURING_SLEEP(queued) (-1)

/* How many of them have run when the one SleepEx returns (counting those that ran before)? */
#define PREDICTED_RUN_BY_ONE_SLEEPEX(queued) (-1)

/* How long, in ms, does that SleepEx take? (Right within 100 ms.) */
#define PREDICTED_SLEEPEX_MS(queued, timeout_ms) (-1)

#endif
