using System;

namespace OptGen.Samples.Theory;

/// <summary>
/// Stochastic gradient Langevin dynamics on OptGen: Φ ← Φ − η(∇L(Φ) + √(2T/η)·ξ), ξ ~ N(0, I), which is
/// Φ ← Φ − η∇L(Φ) + √(2ηT)·ξ. The whole update, noise included, is the declared expression rule
/// <see cref="SgldRule"/>: one fused pass whose <c>randn()</c> is keyed by (seed, step, global index), so a CPU and
/// a GPU path draw the same numbers.
/// </summary>
/// <remarks>
/// In the lecture's terms the gradient noise has variance σ² = 2T/η, so the continuous-time stationary density
/// exp(−2L/(ησ²)) is exp(−L/T): the Gibbs distribution at temperature T.
/// </remarks>
public sealed class LangevinSampler
{
    private readonly SgldRule _rule;

    /// <summary>Creates a sampler for <paramref name="length"/> coordinates.</summary>
    /// <exception cref="ArgumentOutOfRangeException">η or T is not positive and finite.</exception>
    public LangevinSampler(int length, double learningRate, double temperature, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(learningRate);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(temperature);
        if (!double.IsFinite(learningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "η must be finite.");
        }

        if (!double.IsFinite(temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "T must be finite.");
        }

        _rule = new SgldRule(length) { LearningRate = learningRate, Temperature = temperature, Seed = seed };
        NoiseScale = Math.Sqrt(2 * temperature / learningRate);
    }

    /// <summary>√(2T/η): the rule's noise √(2ηT)·ξ is η times gradient noise of this standard deviation.</summary>
    public double NoiseScale { get; }

    /// <summary>Steps taken.</summary>
    public long StepCount => _rule.StepCount;

    /// <summary>One SGLD step from the exact loss gradient <paramref name="lossGradient"/>.</summary>
    /// <exception cref="ArgumentException">A length differs from the sampler's; nothing is written.</exception>
    public void Step(Span<float> parameters, ReadOnlySpan<float> lossGradient)
    {
        if (lossGradient.Length != _rule.Length)
        {
            throw new ArgumentException($"Expected {_rule.Length} gradients but got {lossGradient.Length}.", nameof(lossGradient));
        }

        _rule.Step(parameters, lossGradient);
    }
}
