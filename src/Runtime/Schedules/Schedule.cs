using System;
using System.Collections.Generic;

namespace OptGen;

/// <summary>How <see cref="Schedule.OneCycle(double, long, double, double, double, AnnealStrategy)"/> and <see cref="Schedule.OneCycleThrough"/> move between its values.</summary>
public enum AnnealStrategy
{
    /// <summary>Half a cosine wave: end + (start − end)·(1 + cos(π·x))/2.</summary>
    Cosine = 0,

    /// <summary>A straight line: start + (end − start)·x.</summary>
    Linear = 1,
}

/// <summary>
/// A hyperparameter value as a function of the step: <see cref="ValueAt"/>(k) is the value used by the step taken
/// when <see cref="Optimizer.StepCount"/> = k, i.e. step t = k + 1. This is the value a <c>torch.optim.lr_scheduler</c>
/// holds at <c>last_epoch = k</c> when <c>scheduler.step()</c> follows each <c>optimizer.step()</c>.
/// </summary>
/// <remarks>
/// Schedules are pure functions of k (no hidden state), so a resumed run sees the same values as an uninterrupted
/// one. Compose them with <see cref="Then"/> and <see cref="WithWarmup"/>; attach one to any hyperparameter with
/// <see cref="Optimizer.SetSchedule(string, Schedule)"/> or <see cref="ParameterGroup.SetSchedule"/>.
/// </remarks>
public abstract class Schedule
{
    /// <summary>The value for the step taken when <see cref="Optimizer.StepCount"/> = <paramref name="step"/> (≥ 0).</summary>
    public abstract double ValueAt(long step);

    /// <summary>This schedule for <paramref name="steps"/> steps, then <paramref name="next"/> from its own step 0 (as <c>SequentialLR</c>).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="next"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is negative.</exception>
    public Schedule Then(long steps, Schedule next)
    {
        ArgumentNullException.ThrowIfNull(next);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        return new Sequential(this, steps, next);
    }

    /// <summary>
    /// A linear warm-up over <paramref name="steps"/> steps from <paramref name="startFactor"/>·v₀ towards v₀ =
    /// <c>ValueAt(0)</c>, then this schedule from its own step 0: warm-up + anything, as
    /// <c>SequentialLR([LinearLR(startFactor, 1, steps), this], milestones=[steps])</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is below 1 or <paramref name="startFactor"/> is not in [0, 1].</exception>
    public Schedule WithWarmup(long steps, double startFactor = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        RequireInRange(startFactor, 0, 1, nameof(startFactor));
        double target = ValueAt(0);
        return Linear(startFactor * target, target, steps).Then(steps, this);
    }

    /// <summary>The same value at every step.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="value"/> is NaN or ±∞ (no hyperparameter takes it).</exception>
    public static Schedule Constant(double value)
    {
        RequireFinite(value, nameof(value));
        return new Function(_ => value);
    }

    /// <summary>v₀·γ^⌊k/stepSize⌋, as <c>StepLR</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="stepSize"/> is below 1, or a value is NaN or ±∞.</exception>
    public static Schedule Step(double initial, long stepSize, double gamma)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stepSize, 1);
        RequireFinite(initial, nameof(initial));
        RequireFinite(gamma, nameof(gamma));
        return new Function(k => initial * Math.Pow(gamma, k / stepSize));
    }

    /// <summary>v₀·γ^(number of milestones ≤ k), as <c>MultiStepLR</c>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="milestones"/> is null.</exception>
    /// <exception cref="ArgumentException">The milestones are not increasing and ≥ 0.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value is NaN or ±∞.</exception>
    public static Schedule MultiStep(double initial, IReadOnlyList<long> milestones, double gamma)
    {
        ArgumentNullException.ThrowIfNull(milestones);
        RequireFinite(initial, nameof(initial));
        RequireFinite(gamma, nameof(gamma));
        long[] sorted = [.. milestones];
        for (int i = 0; i < sorted.Length; i++)
        {
            if (sorted[i] < 0 || (i > 0 && sorted[i] <= sorted[i - 1]))
            {
                throw new ArgumentException("Milestones must be increasing and >= 0.", nameof(milestones));
            }
        }

        return new Function(k =>
        {
            int passed = 0;
            while (passed < sorted.Length && sorted[passed] <= k)
            {
                passed++;
            }

            return initial * Math.Pow(gamma, passed);
        });
    }

    /// <summary>v₀·γᵏ, as <c>ExponentialLR</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is NaN or ±∞.</exception>
    public static Schedule Exponential(double initial, double gamma)
    {
        RequireFinite(initial, nameof(initial));
        RequireFinite(gamma, nameof(gamma));
        return new Function(k => initial * Math.Pow(gamma, k));
    }

    /// <summary>
    /// Cosine decay from v₀ to <paramref name="minimum"/> over <paramref name="steps"/> steps:
    /// min + (v₀ − min)·(1 + cos(π·k/steps))/2, as <c>CosineAnnealingLR</c>; it stays at the minimum after.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is below 1, or a value is NaN or ±∞.</exception>
    public static Schedule Cosine(double initial, long steps, double minimum = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        RequireFinite(initial, nameof(initial));
        RequireFinite(minimum, nameof(minimum));
        return new Function(k => k >= steps ? minimum : minimum + ((initial - minimum) * (1 + Math.Cos(Math.PI * k / steps)) / 2));
    }

    /// <summary>A straight line from <paramref name="start"/> to <paramref name="end"/> over <paramref name="steps"/> steps, then <paramref name="end"/> (as <c>LinearLR</c>, in values rather than factors).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="steps"/> is below 1, or a value is NaN or ±∞.</exception>
    public static Schedule Linear(double start, double end, long steps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        RequireFinite(start, nameof(start));
        RequireFinite(end, nameof(end));
        return new Function(k => k >= steps ? end : start + ((end - start) * k / steps));
    }

    /// <summary>v₀/√(1 + d·k): the inverse-square-root decay (d = 1 gives v₀/√t with t = k + 1).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="decay"/> is not finite and &gt; 0.</exception>
    public static Schedule InverseSquareRoot(double initial, double decay = 1)
    {
        RequirePositive(decay, nameof(decay));
        RequireFinite(initial, nameof(initial));
        return new Function(k => initial / Math.Sqrt(1 + (decay * k)));
    }

    /// <summary>
    /// v₀/(1 + d·k): the 1/t decay (d = 1 gives v₀/t with t = k + 1), which meets the lecture's conditions
    /// ηₜ → 0 with Σηₜ = ∞.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="decay"/> is not finite and &gt; 0.</exception>
    public static Schedule InverseTime(double initial, double decay = 1)
    {
        RequirePositive(decay, nameof(decay));
        RequireFinite(initial, nameof(initial));
        return new Function(k => initial / (1 + (decay * k)));
    }

    /// <summary>
    /// The one-cycle policy as <c>OneCycleLR</c> (two phases): from max/<paramref name="divFactor"/> up to
    /// <paramref name="maximum"/> over the first <paramref name="warmupFraction"/> of <paramref name="totalSteps"/>, then
    /// down to max/(<paramref name="divFactor"/>·<paramref name="finalDivFactor"/>) at the last step.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A factor is not finite and &gt; 0, <paramref name="maximum"/> is NaN or ±∞, or as the other overload says.</exception>
    public static Schedule OneCycle(double maximum, long totalSteps, double warmupFraction = 0.3, double divFactor = 25, double finalDivFactor = 1e4, AnnealStrategy anneal = AnnealStrategy.Cosine)
    {
        RequireFinite(maximum, nameof(maximum));
        RequirePositive(divFactor, nameof(divFactor));
        RequirePositive(finalDivFactor, nameof(finalDivFactor));
        double start = maximum / divFactor, end = start / finalDivFactor;

        // The values this overload derives are its factors' doing: named by them, not by OneCycleThrough's start and end.
        if (!double.IsFinite(start))
        {
            throw new ArgumentOutOfRangeException(nameof(divFactor), divFactor, $"The starting value maximum/divFactor = {maximum}/{divFactor} must be finite.");
        }

        if (!double.IsFinite(end))
        {
            throw new ArgumentOutOfRangeException(nameof(finalDivFactor), finalDivFactor, $"The final value maximum/(divFactor·finalDivFactor) = {start}/{finalDivFactor} must be finite.");
        }

        return OneCycleThrough(start, maximum, end, totalSteps, warmupFraction, anneal);
    }

    /// <summary>
    /// A one-cycle shape through any three values: <paramref name="start"/> → <paramref name="peak"/> at step
    /// ⌊fraction·total⌋ − 1 → <paramref name="end"/> at step total − 1. For momentum, as OneCycleLR cycles it, use
    /// start = end = the high value and peak = the low value. (Its own name, not an overload of
    /// <see cref="OneCycle(double, long, double, double, double, AnnealStrategy)"/>: five numbers written as a torch user
    /// writes OneCycleLR's, <c>OneCycle(0.01, 1000, 0.3, 25, 1e4)</c>, would fit both.)
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="totalSteps"/> is below 2, the warm-up phase would be empty or the whole cycle, a value is NaN or ±∞, or <paramref name="anneal"/> is not a defined <see cref="AnnealStrategy"/>.</exception>
    public static Schedule OneCycleThrough(double start, double peak, double end, long totalSteps, double warmupFraction, AnnealStrategy anneal = AnnealStrategy.Cosine)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(totalSteps, 2);
        if (!Enum.IsDefined(anneal))
        {
            throw new ArgumentOutOfRangeException(nameof(anneal), anneal, "anneal must be AnnealStrategy.Cosine or AnnealStrategy.Linear.");
        }

        RequireInRange(warmupFraction, 0, 1, nameof(warmupFraction));
        RequireFinite(start, nameof(start));
        RequireFinite(peak, nameof(peak));
        RequireFinite(end, nameof(end));
        double peakStep = (warmupFraction * totalSteps) - 1;
        double lastStep = totalSteps - 1;
        if (!(peakStep > 0) || !(peakStep < lastStep))
        {
            throw new ArgumentOutOfRangeException(nameof(warmupFraction), warmupFraction, "The warm-up phase must hold at least one step and end before the last step.");
        }

        return new Function(k =>
        {
            double x = Math.Min(k, lastStep);
            return x <= peakStep
                ? Anneal(start, peak, x / peakStep, anneal)
                : Anneal(peak, end, (x - peakStep) / (lastStep - peakStep), anneal);
        });
    }

    private static double Anneal(double from, double to, double fraction, AnnealStrategy strategy) => strategy == AnnealStrategy.Cosine
        ? to + ((from - to) / 2.0 * (Math.Cos(Math.PI * fraction) + 1))
        : ((to - from) * fraction) + from;

    /// <summary>A schedule's value or factor: NaN and ±∞ are no hyperparameter's value, so they are refused where given (finite values out of a hyperparameter's range are refused at the step, which knows the range).</summary>
    private static void RequireFinite(double value, string name)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be finite.");
        }
    }

    private static void RequirePositive(double value, string name)
    {
        if (!double.IsFinite(value) || value <= 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite value > 0.");
        }
    }

    private static void RequireInRange(double value, double low, double high, string name)
    {
        if (!(value >= low && value <= high))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [{low}, {high}].");
        }
    }

    private sealed class Function(Func<long, double> value) : Schedule
    {
        public override double ValueAt(long step)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(step);
            return value(step);
        }
    }

    private sealed class Sequential(Schedule first, long steps, Schedule next) : Schedule
    {
        public override double ValueAt(long step)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(step);
            return step < steps ? first.ValueAt(step) : next.ValueAt(step - steps);
        }
    }
}
