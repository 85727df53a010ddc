// The measured rules: the generated optimizer, and the same rule written unfused (TensorPrimitives) and as a scalar loop.

using System;
using System.Collections.Generic;
using System.Numerics.Tensors;

namespace OptGen.Benchmarks;

/// <summary>Adagrad as torch.optim.Adagrad with its defaults (no learning-rate decay, sum starting at 0).</summary>
[Optimizer(Name = "bench.adagrad")]
[SecondMoment(Kind = SecondMomentKind.Sum, InitialValue = 0)]
[LearningRate(0.01, Decay = 0)]
[Epsilon(1e-10)]
public sealed partial class BenchAdagrad;

/// <summary>A baseline implementation of a rule over its own state: one step updates p in place.</summary>
public abstract class Baseline
{
    /// <summary>The step number of the next step.</summary>
    protected long T { get; private set; }

    /// <summary>One step.</summary>
    public void Step(Span<float> p, ReadOnlySpan<float> g)
    {
        T++;
        Update(p, g);
    }

    /// <summary>The update at step <see cref="T"/>.</summary>
    protected abstract void Update(Span<float> p, ReadOnlySpan<float> g);

    /// <summary>
    /// Bytes an unfused composition moves per element and step, summed over its passes: each pass reads its tensor
    /// inputs once (g·g reads g once) and writes its output, 4 bytes each; 0 for a single-pass baseline. When both
    /// sides are memory-bound, the unfused ÷ generated ratio tends to this ÷ the fused rule's bytes.
    /// </summary>
    public virtual int BytesPerElement => 0;
}

/// <summary>A rule as measured: the generated optimizer and its two baselines, all with the optimizer's default hyperparameters.</summary>
/// <param name="Name">The short name in ratio lines.</param>
/// <param name="Create">The generated optimizer for n elements.</param>
/// <param name="Unfused">The rule as a TensorPrimitives composition (one library call per operation, as torch's single-tensor path).</param>
/// <param name="Scalar">The rule as a plain scalar loop.</param>
public sealed record Rule(string Name, Func<int, Optimizer> Create, Func<int, Baseline> Unfused, Func<int, Baseline> Scalar)
{
    /// <summary>The rules every benchmark covers.</summary>
    public static IReadOnlyList<Rule> All { get; } =
    [
        new("Adam", n => new Adam(n), n => new UnfusedAdam(n, 0), n => new ScalarAdam(n, 0)),
        new("AdamW", n => new AdamW(n), n => new UnfusedAdam(n, 1e-2), n => new ScalarAdam(n, 1e-2)),
        new("SGD-momentum", n => new SgdMomentum(n), n => new UnfusedSgdMomentum(n), n => new ScalarSgdMomentum(n)),
        new("RMSprop", n => new RmsProp(n), n => new UnfusedRmsProp(n, 0.99, 1e-2, 1e-8), n => new ScalarRmsProp(n, 0.99, 1e-2, 1e-8)),
        new("Adagrad", n => new BenchAdagrad(n), n => new UnfusedAdagrad(n), n => new ScalarAdagrad(n)),
        new("AdamMinT", n => new AdamMinT(n), n => new UnfusedAdamMinT(n), n => new ScalarAdamMinT(n)),
    ];
}

// ---- Adam / AdamW (torch defaults: η = 1e-3, β = (0.9, 0.999), ε = 1e-8) ----

internal sealed class UnfusedAdam(int n, double weightDecay) : Baseline
{
    private readonly float[] _m = new float[n];
    private readonly float[] _v = new float[n];
    private readonly float[] _t = new float[n];

    // [p·c] + Lerp m + g² + Lerp v + √ + ·c + +ε + m/· + p MultiplyAdd
    public override int BytesPerElement => (weightDecay != 0 ? 8 : 0) + 12 + 8 + 12 + 8 + 8 + 8 + 12 + 12;

    protected override void Update(Span<float> p, ReadOnlySpan<float> g)
    {
        const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        if (weightDecay != 0)
        {
            TensorPrimitives.Multiply(p, (float)(1 - (lr * weightDecay)), p);
        }

        TensorPrimitives.Lerp(_m, g, (float)(1 - b1), _m);                              // m ← m + (1 − β₁)(g − m)
        TensorPrimitives.Multiply(g, g, _t);                                             // g²
        TensorPrimitives.Lerp(_v, _t, (float)(1 - b2), _v);                              // v ← v + (1 − β₂)(g² − v)
        TensorPrimitives.Sqrt(_v, _t);                                                   // √v
        TensorPrimitives.Multiply(_t, (float)(1 / Math.Sqrt(1 - Math.Pow(b2, T))), _t); // √v̂
        TensorPrimitives.Add(_t, (float)eps, _t);                                        // √v̂ + ε
        TensorPrimitives.Divide(_m, _t, _t);                                             // m/(√v̂ + ε)
        TensorPrimitives.MultiplyAdd(_t, (float)(-lr / (1 - Math.Pow(b1, T))), p, p);   // p ← p − η/(1 − β₁ᵗ)·…
    }
}

internal sealed class ScalarAdam(int n, double weightDecay) : Baseline
{
    private readonly float[] _m = new float[n];
    private readonly float[] _v = new float[n];

    protected override void Update(Span<float> p, ReadOnlySpan<float> g)
    {
        const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        float decay = (float)(1 - (lr * weightDecay));
        float stepSize = (float)(lr / (1 - Math.Pow(b1, T)));
        float correction = (float)Math.Sqrt(1 - Math.Pow(b2, T));
        float[] m = _m, v = _v;
        for (int i = 0; i < p.Length; i++)
        {
            float gi = g[i];
            m[i] = (0.9f * m[i]) + (0.1f * gi);
            v[i] = (0.999f * v[i]) + (0.001f * gi * gi);
            p[i] = (p[i] * decay) - (stepSize * m[i] / ((MathF.Sqrt(v[i]) / correction) + (float)eps));
        }
    }
}

// ---- SGD with momentum (η = 1e-3, μ = 0.9, no dampening) ----

internal sealed class UnfusedSgdMomentum(int n) : Baseline
{
    private readonly float[] _b = new float[n];

    // two MultiplyAdds
    public override int BytesPerElement => 12 + 12;

    protected override void Update(Span<float> p, ReadOnlySpan<float> g)
    {
        TensorPrimitives.MultiplyAdd(_b, 0.9f, g, _b);  // b ← μb + g
        TensorPrimitives.MultiplyAdd(_b, -1e-3f, p, p); // p ← p − ηb
    }
}

internal sealed class ScalarSgdMomentum(int n) : Baseline
{
    private readonly float[] _b = new float[n];

    protected override void Update(Span<float> p, ReadOnlySpan<float> g)
    {
        float[] b = _b;
        for (int i = 0; i < p.Length; i++)
        {
            b[i] = (0.9f * b[i]) + g[i];
            p[i] -= 1e-3f * b[i];
        }
    }
}

// ---- RMSprop (η = 1e-2, α = 0.99, ε = 1e-8) ----

internal sealed class UnfusedRmsProp(int n, double alpha, double lr, double eps) : Baseline
{
    private readonly float[] _v = new float[n];
    private readonly float[] _t = new float[n];

    // g² + Lerp v + √ + +ε + g/· + p MultiplyAdd
    public override int BytesPerElement => 8 + 12 + 8 + 8 + 12 + 12;

    protected override void Update(Span<float> p, ReadOnlySpan<float> g)
    {
        TensorPrimitives.Multiply(g, g, _t);                   // g²
        TensorPrimitives.Lerp(_v, _t, (float)(1 - alpha), _v); // v ← αv + (1 − α)g²
        TensorPrimitives.Sqrt(_v, _t);
        TensorPrimitives.Add(_t, (float)eps, _t);              // √v + ε
        TensorPrimitives.Divide(g, _t, _t);                    // g/(√v + ε)
        TensorPrimitives.MultiplyAdd(_t, (float)-lr, p, p);    // p ← p − η·…
    }
}

internal sealed class ScalarRmsProp(int n, double alpha, double lr, double eps) : Baseline
{
    private readonly float[] _v = new float[n];

    protected override void Update(Span<float> p, ReadOnlySpan<float> g)
    {
        float a = (float)alpha, b = (float)(1 - alpha), l = (float)lr, e = (float)eps;
        float[] v = _v;
        for (int i = 0; i < p.Length; i++)
        {
            float gi = g[i];
            v[i] = (a * v[i]) + (b * gi * gi);
            p[i] -= l * gi / (MathF.Sqrt(v[i]) + e);
        }
    }
}

// ---- Adagrad (η = 1e-2, no decay, ε = 1e-10, sum from 0): the same as RMSprop's shape with a sum ----

internal sealed class UnfusedAdagrad(int n) : Baseline
{
    private readonly float[] _s = new float[n];
    private readonly float[] _t = new float[n];

    // s MultiplyAdd + √ + +ε + g/· + p MultiplyAdd
    public override int BytesPerElement => 12 + 8 + 8 + 12 + 12;

    protected override void Update(Span<float> p, ReadOnlySpan<float> g)
    {
        TensorPrimitives.MultiplyAdd(g, g, _s, _s); // s ← s + g²
        TensorPrimitives.Sqrt(_s, _t);
        TensorPrimitives.Add(_t, 1e-10f, _t);       // √s + ε
        TensorPrimitives.Divide(g, _t, _t);
        TensorPrimitives.MultiplyAdd(_t, -1e-2f, p, p);
    }
}

internal sealed class ScalarAdagrad(int n) : Baseline
{
    private readonly float[] _s = new float[n];

    protected override void Update(Span<float> p, ReadOnlySpan<float> g)
    {
        float[] s = _s;
        for (int i = 0; i < p.Length; i++)
        {
            float gi = g[i];
            s[i] += gi * gi;
            p[i] -= 1e-2f * gi / (MathF.Sqrt(s[i]) + 1e-10f);
        }
    }
}

// ---- The lecture's Adam with 1/min(t, N) averaging (η = 1e-3, N = 10 and 1000, ε = 1e-8) ----

internal sealed class UnfusedAdamMinT(int n) : Baseline
{
    private readonly float[] _m = new float[n];
    private readonly float[] _s = new float[n];
    private readonly float[] _t = new float[n];

    // Lerp m + g² + Lerp s + √ + +ε + m/· + p MultiplyAdd
    public override int BytesPerElement => 12 + 8 + 12 + 8 + 8 + 12 + 12;

    protected override void Update(Span<float> p, ReadOnlySpan<float> g)
    {
        TensorPrimitives.Lerp(_m, g, (float)(1.0 / Math.Min(T, 10)), _m);
        TensorPrimitives.Multiply(g, g, _t);
        TensorPrimitives.Lerp(_s, _t, (float)(1.0 / Math.Min(T, 1000)), _s);
        TensorPrimitives.Sqrt(_s, _t);
        TensorPrimitives.Add(_t, 1e-8f, _t);
        TensorPrimitives.Divide(_m, _t, _t);
        TensorPrimitives.MultiplyAdd(_t, -1e-3f, p, p);
    }
}

internal sealed class ScalarAdamMinT(int n) : Baseline
{
    private readonly float[] _m = new float[n];
    private readonly float[] _s = new float[n];

    protected override void Update(Span<float> p, ReadOnlySpan<float> g)
    {
        float c1 = (float)(1.0 / Math.Min(T, 10)), c2 = (float)(1.0 / Math.Min(T, 1000));
        float[] m = _m, s = _s;
        for (int i = 0; i < p.Length; i++)
        {
            float gi = g[i];
            m[i] = ((1 - c1) * m[i]) + (c1 * gi);
            s[i] = ((1 - c2) * s[i]) + (c2 * gi * gi);
            p[i] -= 1e-3f * m[i] / (MathF.Sqrt(s[i]) + 1e-8f);
        }
    }
}
