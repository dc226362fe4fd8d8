/* Exercise 03.1: your prediction. Replace -1 with a number, then ./tutorial check 03.1 */
#ifndef PREDICTION_03_1_H
#define PREDICTION_03_1_H

/* Five receives have finished at once, so five completion routines wait in the thread's
 * APC queue. The thread then calls SleepEx(0, TRUE) once. How many of the five routines
 * have run when that one call returns? */
#define PREDICTED_ROUTINES_RUN_BY_ONE_SLEEPEX (-1)

#endif
