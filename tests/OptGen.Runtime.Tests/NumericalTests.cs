using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;

namespace OptGen.Runtime.Tests;

/// <summary>
/// Every declared optimizer against its float64 reference: lengths 0..256 and 1025 (so every SIMD width and the
/// scalar tail run), 100 steps, non-default hyperparameters. The tolerance is relative to the magnitude of the
/// parameters: |p − p_ref| ≤ 5e-6 · max(1, max |p_ref|) (the conformance contract's default rtol) at every step.
/// </summary>
public sealed class NumericalTests
{
    private const int Steps = 100;
    private const double RelativeTolerance = 5e-6;

    public static IEnumerable<int> Lengths => Enumerable.Range(0, 257).Append(1025);

    public static TheoryData<string> Cases => new(Factories.Keys.Order());

    private static readonly Dictionary<string, (Func<int, Optimizer> Create, Func<int, Reference> Reference)> Factories = new()
    {
        ["Adam (PyTorch, catalog)"] = (n => new Adam(n) { LearningRate = 1e-2, WeightDecay = 0.05 }, n => new AdamReference(n, 1e-2, 0.9, 0.999, 1e-8, wd: 0.05)),
        ["Adam maximize"] = (n => new Adam(n) { LearningRate = 1e-2, Maximize = true }, n => new AdamReference(n, 1e-2, 0.9, 0.999, 1e-8, maximize: true)),
        ["AdamW (catalog)"] = (n => new AdamW(n) { LearningRate = 1e-2, WeightDecay = 0.1, Beta2 = 0.99 }, n => new AdamReference(n, 1e-2, 0.9, 0.99, 1e-8, wd: 0.1, decoupled: true)),
        ["Adam by lengths (user)"] = (n => new MyAdam(n), n => new AdamReference(n, 1e-3, 0.9, 0.999, 1e-8)),
        ["Adam AMSGrad (user)"] = (n => new AmsGradAdam(n) { LearningRate = 1e-2, WeightDecay = 0.01 }, n => new AdamReference(n, 1e-2, 0.9, 0.999, 1e-8, wd: 0.01, amsgrad: true)),
        ["Adam ε before correction (user)"] = (n => new PaperAdam(n) { LearningRate = 1e-2, Epsilon = 1e-3 }, n => new AdamReference(n, 1e-2, 0.9, 0.999, 1e-3, epsBeforeCorrection: true)),
        ["Adam ε inside √ (user)"] = (n => new AdamEpsilonInside(n) { LearningRate = 1e-2 }, n => new AdamReference(n, 1e-2, 0.9, 0.999, 1e-6, epsInside: true)),
        ["Adam decoupled ε, power correction (user)"] = (n => new AdamDecoupledEpsilonPower(n), n => new AdamReference(n, 0.01, 0.9, 0.99, 0.05, decoupledEpsilon: true)),
        ["Adam 1/min(t,N) (lecture)"] = (n => new AdamMinT(n) { LearningRate = 1e-2, Beta1 = 1 - (1.0 / 5), Beta2 = 1 - (1.0 / 50) }, n => new AdamMinTReference(n, 5, 50, 1e-2, 1e-8)),
        ["Adam decoupled ε (lecture)"] = (n => new AdamDecoupledEpsilon(n) { Epsilon = 0.5 }, n => new AdamMinTReference(n, 10, 1000, 0.01, 0.5, decoupledEpsilon: true)),
        ["SGD (catalog)"] = (n => new Sgd(n) { LearningRate = 0.05, WeightDecay = 0.01 }, n => new SgdReference(n, 0.05, 0, wd: 0.01)),
        ["SGD momentum (catalog)"] = (n => new SgdMomentum(n) { LearningRate = 0.05 }, n => new SgdReference(n, 0.05, 0.9)),
        ["SGD Nesterov (catalog)"] = (n => new SgdNesterov(n) { LearningRate = 0.05, WeightDecay = 0.01 }, n => new SgdReference(n, 0.05, 0.9, nesterov: true, wd: 0.01)),
        ["SGD dampened, maximize (user)"] = (n => new DampenedSgd(n) { Maximize = true }, n => new SgdReference(n, 0.1, 0.9, dampening: 0.5, maximize: true)),
        ["RMSprop (catalog)"] = (n => new RmsProp(n), n => new RmsPropReference(n, 0.01, 0.99, 1e-8)),
        ["RMSprop centered + momentum (user)"] = (n => new CenteredMomentumRmsProp(n) { Alpha = 0.9 }, n => new RmsPropReference(n, 0.01, 0.9, 1e-8, centered: true, momentum: 0.9)),
        ["RMSProp ε inside √ (lecture)"] = (n => new RmsPropEpsilonInside(n) { Epsilon = 1e-4 }, n => new LectureRmsPropReference(n, 100, 0.01, 1e-4, inside: true)),
        ["RMSProp ε outside √ (lecture)"] = (n => new RmsPropEpsilonOutside(n) { Epsilon = 1e-4 }, n => new LectureRmsPropReference(n, 100, 0.01, 1e-4, inside: false)),
        ["RMSProp power 1 (lecture)"] = (n => new DimensionalRmsProp(n), n => new LectureRmsPropReference(n, 100, 0.001, 1e-3, inside: false, powerOne: true)),
        ["Classic momentum (lecture)"] = (n => new ClassicMomentum(n), n => new ClassicMomentumReference(n, 10, 0.01)),
        ["EMA momentum (lecture)"] = (n => new EmaMomentum(n), n => new EmaMomentumReference(n, 10, 0.1)),
        ["Adagrad (user)"] = (n => new MyAdagrad(n), n => new AdagradReference(n, 0.01, 0.01, 0.1, 1e-10)),
        ["RMS Adagrad (lecture, user)"] = (n => new RmsAdagrad(n), n => new RmsAdagradReference(n, 0.01)),
        ["RMSProp σ₁ = |g₁| (lecture, user)"] = (n => new FirstSampleRmsProp(n), n => new FirstSampleRmsPropReference(n, 0.9, 0.01)),
        ["Adamax (user)"] = (n => new MyAdamax(n), n => new AdamaxReference(n, 0.002, 0.9, 0.999, 1e-8)),
        ["Adam AMSGrad (catalog)"] = (n => new AdamAmsGrad(n) { LearningRate = 1e-2, WeightDecay = 0.01, Maximize = true }, n => new AdamReference(n, 1e-2, 0.9, 0.999, 1e-8, wd: 0.01, amsgrad: true, maximize: true)),
        ["AdamW AMSGrad (catalog)"] = (n => new AdamWAmsGrad(n) { LearningRate = 1e-2, WeightDecay = 0.1, Beta1 = 0.8 }, n => new AdamReference(n, 1e-2, 0.8, 0.999, 1e-8, wd: 0.1, decoupled: true, amsgrad: true)),
        ["RMSprop centered (catalog)"] = (n => new RmsPropCentered(n) { Alpha = 0.9 }, n => new RmsPropReference(n, 0.01, 0.9, 1e-8, centered: true)),
        ["RMSprop momentum (catalog)"] = (n => new RmsPropMomentum(n) { Momentum = 0.5, Epsilon = 1e-6 }, n => new RmsPropReference(n, 0.01, 0.99, 1e-6, momentum: 0.5)),
        ["RMSprop centered + momentum (catalog)"] = (n => new RmsPropCenteredMomentum(n), n => new RmsPropReference(n, 0.01, 0.99, 1e-8, centered: true, momentum: 0.9)),
        ["Adagrad (catalog)"] = (n => Reset(new Adagrad(n) { LearningRate = 0.05, LearningRateDecay = 0.01, InitialAccumulatorValue = 0.1, WeightDecay = 0.01, Maximize = true }), n => new AdagradReference(n, 0.05, 0.01, 0.1, 1e-10, wd: 0.01, maximize: true)),
        ["Adamax (catalog)"] = (n => new Adamax(n) { LearningRate = 0.01, Beta2 = 0.99, WeightDecay = 0.05, Maximize = true }, n => new AdamaxReference(n, 0.01, 0.9, 0.99, 1e-8, wd: 0.05, maximize: true)),
        // No weight decay here: on the always-zero elements g = λ·p alone drives NAdam's g/d term into a chaotic
        // oscillation around 0 that amplifies float32 rounding (the conformance case nadam_weight_decay covers λ).
        ["NAdam (catalog)"] = (n => new NAdam(n) { LearningRate = 0.01 }, n => new NAdamReference(n, 0.01, 0.9, 0.999, 1e-8, 4e-3)),
        ["NAdam ψ = 0.1, maximize (catalog)"] = (n => new NAdam(n) { LearningRate = 0.01, MomentumDecay = 0.1, Beta1 = 0.8, Beta2 = 0.99, Maximize = true }, n => new NAdamReference(n, 0.01, 0.8, 0.99, 1e-8, 0.1, maximize: true)),
        ["NAdam decoupled weight decay, maximize (catalog)"] = (n => new NAdamW(n) { LearningRate = 0.01, WeightDecay = 0.1, MomentumDecay = 0.02, Maximize = true }, n => new NAdamReference(n, 0.01, 0.9, 0.999, 1e-8, 0.02, wd: 0.1, maximize: true, decoupled: true)),
        ["NAdam decoupled weight decay, β = (0.8, 0.99) (catalog)"] = (n => new NAdamW(n) { LearningRate = 0.02, WeightDecay = 0.5, Beta1 = 0.8, Beta2 = 0.99 }, n => new NAdamReference(n, 0.02, 0.8, 0.99, 1e-8, 4e-3, wd: 0.5, decoupled: true)),
        ["RAdam decoupled weight decay (catalog)"] = (n => new RAdamW(n) { LearningRate = 0.01, WeightDecay = 0.1 }, n => new RAdamReference(n, 0.01, 0.9, 0.999, 1e-8, wd: 0.1, decoupled: true)),
        ["RAdam decoupled weight decay, β₂ = 0.9, maximize (catalog)"] = (n => new RAdamW(n) { LearningRate = 0.02, WeightDecay = 0.5, Beta2 = 0.9, Epsilon = 1e-6, Maximize = true }, n => new RAdamReference(n, 0.02, 0.9, 0.9, 1e-6, wd: 0.5, maximize: true, decoupled: true)),
        ["RAdam (catalog)"] = (n => new RAdam(n) { LearningRate = 0.01, WeightDecay = 0.01 }, n => new RAdamReference(n, 0.01, 0.9, 0.999, 1e-8, wd: 0.01)),
        ["RAdam β₂ = 0.9, maximize (catalog)"] = (n => new RAdam(n) { LearningRate = 0.01, Beta2 = 0.9, Epsilon = 1e-6, Maximize = true }, n => new RAdamReference(n, 0.01, 0.9, 0.9, 1e-6, maximize: true)),
        ["RAdam ρₜ > 4, ε after correction (user)"] = (n => new PaperRAdam(n), n => new RAdamReference(n, 0.01, 0.9, 0.99, 1e-6, threshold: 4, epsAfterCorrection: true)),
        ["Adadelta (catalog)"] = (n => new Adadelta(n) { WeightDecay = 0.01, Maximize = true }, n => new AdadeltaReference(n, 1.0, 0.9, 1e-6, wd: 0.01, maximize: true)),
        ["Adadelta ρ = 0.95, ε = 1e-4 (catalog)"] = (n => new Adadelta(n) { LearningRate = 0.5, Rho = 0.95, Epsilon = 1e-4 }, n => new AdadeltaReference(n, 0.5, 0.95, 1e-4)),
        ["RMS Adagrad (lecture, catalog)"] = (n => new AdagradRms(n) { LearningRate = 0.02 }, n => new RmsAdagradReference(n, 0.02)),
        ["RMSProp σ₁ = |g₁| (lecture, catalog)"] = (n => new RmsPropAlpha(n) { Alpha = 0.8 }, n => new FirstSampleRmsPropReference(n, 0.8, 0.01)),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesFloat64ReferenceAtEveryLength(string name)
    {
        (Func<int, Optimizer> create, Func<int, Reference> reference) = Factories[name];
        foreach (int n in Lengths)
        {
            var random = new Random(1000 + n);
            float[] p = Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
            float[] expected = (float[])p.Clone();
            Optimizer optimizer = create(n);
            Reference model = reference(n);
            var g = new float[n];
            for (int t = 1; t <= Steps; t++)
            {
                for (int i = 0; i < n; i++)
                {
                    // Gaussian gradients with a drift, and exact zeros on every 7th element.
                    g[i] = i % 7 == 3 ? 0f : (float)(Gaussian(random) + (0.3 * Math.Sin(i + t)));
                }

                optimizer.Step(p, g);
                model.Step(expected, g, t);
                AssertClose(name, n, t, expected, p);
            }

            Assert.Equal(Steps, optimizer.StepCount);
        }
    }

    internal static void AssertClose(string name, int n, int t, float[] expected, float[] actual)
    {
        double scale = 1;
        foreach (float e in expected)
        {
            scale = Math.Max(scale, Math.Abs(e));
        }

        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs((double)actual[i] - expected[i]);
            if (!(error <= RelativeTolerance * scale))
            {
                Assert.Fail($"{name}: length {n}, step {t}, element {i}: got {actual[i]:R}, reference {expected[i]:R} (error {error:E2} > {RelativeTolerance * scale:E2}).");
            }
        }
    }

    /// <summary>Re-initializes the state from hyperparameters read at allocation (Adagrad's initial accumulator value).</summary>
    private static Optimizer Reset(Optimizer optimizer)
    {
        optimizer.Reset();
        return optimizer;
    }

    internal static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
