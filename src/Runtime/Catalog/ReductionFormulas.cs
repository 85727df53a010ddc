using System;
using System.Runtime.CompilerServices;

namespace OptGen.Engine;

/// <summary>
/// The scalar formulas of the rules with reductions (the catalog's LAMB, LARS and Adafactor, a declared reduction's finish), one definition for the CPU passes
/// (<see cref="Lamb"/>, <see cref="Lars"/>, <see cref="Adafactor"/>) and their GPU kernels (<c>src/Runtime/Gpu/GpuReductions.*.cs</c>).
/// </summary>
internal static class ReductionFormulas
{
    /// <summary>
    /// A declared reduction's value from its combined partials over a tensor of <paramref name="length"/> elements:
    /// √ for a norm (of Σx²), ÷ n for a mean (0 for an empty tensor), as is for a sum and maxabs.
    /// </summary>
    public static double Finish(ReductionKind kind, double combined, long length) => kind switch
    {
        ReductionKind.Norm => Math.Sqrt(combined),
        ReductionKind.Mean => length == 0 ? 0 : combined / length,
        _ => combined,
    };

    /// <summary>LAMB's trust ratio ‖p‖/‖r‖, 1 when either norm is 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double LambTrust(double pNorm, double rNorm) => pNorm > 0 && rNorm > 0 ? pNorm / rNorm : 1.0;

    /// <summary>
    /// LAMB's direction of one element, r = (m·bc1)/(√(v·bc2) + ε) + λp, with bc1, bc2 the reciprocals
    /// 1/(1 − β₁ᵗ), 1/(1 − β₂ᵗ) (one division per element).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LambDirection(float m, float v, float p, float bc1, float bc2, float eps, float wd) =>
        ((m * bc1) / (MathF.Sqrt(v * bc2) + eps)) + (wd * p);

    /// <summary>
    /// Adafactor's factor on a tensor's update U: −max(ε₂, RMS(p))·min(η, 1/√t) / max(1, RMS(U)/d), from Σp², ΣU² and
    /// the tensor's length n (torch.optim.Adafactor's relative step size and RMS clipping).
    /// </summary>
    public static double AdafactorAlpha(double sumP2, double sumU2, double n, double learningRate, double epsilon2, double clipThreshold, long step)
    {
        double rho = Math.Min(learningRate, 1 / Math.Sqrt(step));
        double alpha = Math.Max(epsilon2, Math.Sqrt(sumP2) / Math.Sqrt(n)) * rho;
        double denom = Math.Max(1.0, Math.Sqrt(sumU2) / (Math.Sqrt(n) * clipThreshold));
        return -alpha / denom;
    }

    /// <summary>LARS's local rate tc·‖p‖/(‖g‖ + λ‖p‖), 1 when ‖p‖ or ‖g‖ is 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double LarsLocal(double trustCoefficient, double weightDecay, double pNorm, double gNorm) =>
        pNorm > 0 && gNorm > 0 ? trustCoefficient * pNorm / (gNorm + (weightDecay * pNorm)) : 1.0;
}
