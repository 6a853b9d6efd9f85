using System.Diagnostics;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace EcrCache.Http
{
    /// <summary>
    /// The one place retries are built. Every retry EcrCache makes (the HTTP clients through <see cref="RetryHandler"/>,
    /// the ECR and Artifact Registry API clients through <see cref="RetryingApiClient{TCall}"/>, docker push/pull in
    /// DockerCli) is a Polly pipeline from <see cref="Pipeline{T}"/>, and every per-attempt limit one from
    /// <see cref="Timeout"/>: add a new retry here, not as a loop around Task.Delay. The clients differ only in their
    /// <see cref="RetryShape"/> (numbers) and their classification callback (which answers are transient, and why).
    /// Retries that are not EcrCache's own stay with the libraries that make them: the AWS SDK's standard mode for S3
    /// (it re-creates streamed upload bodies) and Google.Apis.Auth's token exchange; their HTTP clients get
    /// <see cref="HttpRetryPolicy.None"/> so the attempts are not squared.
    /// </summary>
    /// <remarks>
    /// Polly's own backoff (decorrelated jitter) and its timeout around the whole operation are not used: the waits
    /// are the full jitter below, and the deadline is a gate (no attempt or wait starts after it), not a timer that
    /// cuts an attempt off half-way.
    /// </remarks>
    internal static class Resilience
    {
        private static readonly ResiliencePropertyKey<long> StartedKey = new ResiliencePropertyKey<long>("EcrCache.Started");
        private static readonly ResiliencePropertyKey<RetryEvent?> PlannedKey = new ResiliencePropertyKey<RetryEvent?>("EcrCache.PlannedRetry");
        private static readonly ResiliencePropertyKey<Action<RetryEvent>?> ListenerKey = new ResiliencePropertyKey<Action<RetryEvent>?>("EcrCache.OnRetry");
        private static readonly Random SharedRandom = new Random();

        /// <summary>
        /// Attempts as <paramref name="shape"/> says: after each one, <paramref name="classify"/> says whether its outcome
        /// (a result or an exception; the token is the caller's) is worth another attempt, and why. A transient outcome
        /// is retried after <see cref="Transient.RetryAfter"/> or else the backoff, unless that was the last attempt or
        /// the wait would end after the deadline; the last outcome is returned (or its exception thrown) as is.
        /// </summary>
        public static RetryPipeline<T> Pipeline<T>(RetryShape shape, Func<Outcome<T>, CancellationToken, Transient?> classify)
        {
            if (shape == null)
            {
                throw new ArgumentNullException(nameof(shape));
            }

            var builder = new ResiliencePipelineBuilder<T>();
            if (shape.MaxAttempts > 1)
            {
                builder.AddRetry(new RetryStrategyOptions<T>
                {
                    MaxRetryAttempts = shape.MaxAttempts - 1,
                    ShouldHandle = args => new ValueTask<bool>(Plan(shape, classify, args.Context, args.Outcome, args.AttemptNumber + 1)),
                    DelayGenerator = args => new ValueTask<TimeSpan?>(args.Context.Properties.GetValue(PlannedKey, null)?.Delay),
                    OnRetry = args =>
                    {
                        args.Context.Properties.GetValue(ListenerKey, null)?.Invoke(args.Context.Properties.GetValue(PlannedKey, null)!);
                        return default;
                    },
                });
            }

            if (shape.AttemptTimeout != null)
            {
                builder.AddTimeout(TimeoutOptions(shape.AttemptTimeout.Value));
            }

            return new RetryPipeline<T>(builder.Build());
        }

        /// <summary>
        /// A limit for one attempt (or one part of it): the callback's token is cancelled after <paramref name="timeout"/>
        /// and the call then throws <see cref="TimeoutRejectedException"/>; the caller's own cancellation still throws
        /// <see cref="OperationCanceledException"/>.
        /// </summary>
        public static ResiliencePipeline Timeout(TimeSpan timeout) =>
            new ResiliencePipelineBuilder().AddTimeout(TimeoutOptions(timeout)).Build();

        /// <summary>
        /// Full jitter: a random delay in [floor, 1] x min(<paramref name="maxDelay"/>, <paramref name="baseDelay"/> x 2^(attempt-1)),
        /// where <paramref name="jitterFloor"/> 0 is the classic full jitter and 0.5 keeps at least half of the ceiling.
        /// </summary>
        public static TimeSpan Backoff(TimeSpan baseDelay, TimeSpan maxDelay, double jitterFloor, int attempt)
        {
            // The exponent stops at 16 only to keep the number finite: 2^16 times the base is past the cap of every
            // shape in use (the largest cap-to-base ratio is the tests' 20 s / 1 ms).
            var ceiling = Math.Min(maxDelay.TotalMilliseconds, baseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 16)));
            double factor;
            lock (SharedRandom)
            {
                factor = SharedRandom.NextDouble();
            }

            return TimeSpan.FromMilliseconds(ceiling * (jitterFloor + ((1 - jitterFloor) * factor)));
        }

        /// <summary>Starts the deadline clock of one execution and names who hears about its retries.</summary>
        internal static void Begin(ResilienceContext context, Action<RetryEvent>? onRetry)
        {
            context.Properties.Set(StartedKey, Stopwatch.GetTimestamp());
            context.Properties.Set(ListenerKey, onRetry);
        }

        private static TimeoutStrategyOptions TimeoutOptions(TimeSpan timeout) =>
            // The generator, not Timeout itself: Polly's validation stops at 10 ms, the tests go lower.
            new TimeoutStrategyOptions { TimeoutGenerator = _ => new ValueTask<TimeSpan>(timeout) };

        /// <summary>Whether to retry after <paramref name="attempt"/> (1-based), with the wait drawn once and kept for Polly's delay and OnRetry.</summary>
        private static bool Plan<T>(RetryShape shape, Func<Outcome<T>, CancellationToken, Transient?> classify, ResilienceContext context, Outcome<T> outcome, int attempt)
        {
            context.Properties.Set(PlannedKey, null);
            if (attempt >= shape.MaxAttempts)
            {
                return false;
            }

            var transient = classify(outcome, context.CancellationToken);
            if (transient == null)
            {
                return false;
            }

            var delay = transient.RetryAfter ?? Backoff(shape.BaseDelay, shape.MaxDelay, shape.JitterFloor, attempt);
            var elapsed = context.Properties.TryGetValue(StartedKey, out var started)
                ? TimeSpan.FromSeconds((Stopwatch.GetTimestamp() - started) / (double)Stopwatch.Frequency)
                : TimeSpan.Zero;
            var givingUp = shape.Deadline != null && elapsed + delay >= shape.Deadline.Value;
            var planned = new RetryEvent(attempt, shape.MaxAttempts, transient.Reason, delay, transient.RetryAfter != null, elapsed, shape.Deadline, givingUp);
            if (givingUp)
            {
                context.Properties.GetValue(ListenerKey, null)?.Invoke(planned);
                return false;
            }

            context.Properties.Set(PlannedKey, planned);
            return true;
        }
    }

    /// <summary>The numbers of one retry policy: how many attempts, the backoff between them, and the limits.</summary>
    internal class RetryShape
    {
        /// <summary>Attempts in all, the first one included; 1 or less means no retry.</summary>
        public int MaxAttempts { get; set; } = 1;

        /// <summary>The first wait's ceiling; each later one doubles, up to <see cref="MaxDelay"/>.</summary>
        public TimeSpan BaseDelay { get; set; }

        public TimeSpan MaxDelay { get; set; }

        /// <summary>The smallest share of the ceiling a wait may be: 0 for full jitter (the HTTP and API clients), 0.5 for docker.</summary>
        public double JitterFloor { get; set; }

        /// <summary>No new attempt (or wait) starts once this much time has passed since the first attempt; null for none.</summary>
        public TimeSpan? Deadline { get; set; }

        /// <summary>
        /// Limit for each attempt (null: none). An attempt that hits it ends in <see cref="TimeoutRejectedException"/>,
        /// which the classification may call transient.
        /// </summary>
        public TimeSpan? AttemptTimeout { get; set; }
    }

    /// <summary>What a classification callback says about a transient outcome: why (for the log) and, optionally, the wait the server asked for.</summary>
    internal sealed class Transient
    {
        public Transient(string reason, TimeSpan? retryAfter = null)
        {
            Reason = reason;
            RetryAfter = retryAfter;
        }

        public string Reason { get; }

        /// <summary>The server's Retry-After; used instead of the backoff, but never past the deadline.</summary>
        public TimeSpan? RetryAfter { get; }
    }

    /// <summary>A retry about to wait, or (<see cref="GivingUp"/>) one the deadline leaves no room for.</summary>
    /// <param name="Attempt">The attempt that failed, 1-based.</param>
    /// <param name="Elapsed">Time since the first attempt started.</param>
    internal sealed record RetryEvent(int Attempt, int MaxAttempts, string Reason, TimeSpan Delay, bool FromRetryAfter, TimeSpan Elapsed, TimeSpan? Deadline, bool GivingUp);

    /// <summary>A pipeline from <see cref="Resilience.Pipeline{T}"/>: runs an operation's attempts and starts its deadline clock.</summary>
    internal sealed class RetryPipeline<T>
    {
        private readonly ResiliencePipeline<T> _pipeline;

        internal RetryPipeline(ResiliencePipeline<T> pipeline) => _pipeline = pipeline;

        /// <summary>
        /// Runs <paramref name="attempt"/> until it succeeds or is not worth another try; its token is the attempt's
        /// (limited by the attempt timeout). <paramref name="onRetry"/> hears about every wait before it starts, and
        /// about a give-up at the deadline.
        /// </summary>
        public async Task<T> ExecuteAsync(Func<CancellationToken, Task<T>> attempt, Action<RetryEvent>? onRetry, CancellationToken cancellationToken)
        {
            var context = ResilienceContextPool.Shared.Get(continueOnCapturedContext: false, cancellationToken);
            try
            {
                Resilience.Begin(context, onRetry);
                return await _pipeline.ExecuteAsync(static (ctx, run) => new ValueTask<T>(run(ctx.CancellationToken)), context, attempt).ConfigureAwait(false);
            }
            finally
            {
                ResilienceContextPool.Shared.Return(context);
            }
        }
    }
}
