using System;
using System.Linq;
using Xunit;

namespace OptGen.Runtime.Tests;

/// <summary>
/// The per-step schedules carried inside a rule: NAdam's host-side product Πₜ (advanced once per step, restored by
/// Reset, untouched by a rejected step), RAdam's switch between plain and rectified steps, Adadelta's accumulator.
/// </summary>
public sealed class StepScheduleTests
{
    [Fact]
    public void NAdamCarriesTheProductOfMuAcrossSteps()
    {
        var nadam = new NAdam(3) { MomentumDecay = 0.1, Beta1 = 0.8 };
        Assert.Equal(1.0, nadam.MuProduct);
        Assert.Equal(["MuProduct"], nadam.Descriptor.HostStates.Select(h => h.Name));
        float[] p = [1, -2, 3];
        double expected = 1;
        for (int t = 1; t <= 5; t++)
        {
            nadam.Step(p, [0.5f, -0.25f, 1f]);
            expected *= 0.8 * (1 - (0.5 * Math.Pow(0.96, t * 0.1)));
            Assert.Equal(expected, nadam.MuProduct, 15);
        }
    }

    [Fact]
    public void NAdamResetRestoresTheProductAndRepeatsTheRun()
    {
        var nadam = new NAdam(5) { LearningRate = 0.01 };
        float[] Run()
        {
            float[] p = [1, -2, 3, 0.5f, -0.1f];
            for (int t = 1; t <= 10; t++)
            {
                nadam.Step(p, [0.1f * t, -0.2f, 0.3f, 0, 1]);
            }

            return p;
        }

        float[] first = Run();
        Assert.NotEqual(1.0, nadam.MuProduct);
        nadam.Reset();
        Assert.Equal(1.0, nadam.MuProduct);
        Assert.Equal(0, nadam.StepCount);
        Assert.Equal(first, Run());
    }

    [Fact]
    public void ARejectedStepLeavesTheProductAlone()
    {
        var nadam = new NAdam(2);
        float[] p = [1, 2];
        nadam.Step(p, [1, 1]);
        double product = nadam.MuProduct;
        Assert.Throws<ArgumentException>(() => nadam.Step(p, new float[3]));
        Assert.Equal(product, nadam.MuProduct);
        Assert.Equal(1, nadam.StepCount);
    }

    [Fact]
    public void NAdamRejectsANegativeMomentumDecay()
    {
        var nadam = new NAdam(1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => nadam.MomentumDecay = -1);
        Assert.Equal("MomentumDecay", e.ParamName);
        Assert.Equal(4e-3, nadam.MomentumDecay);
    }

    [Fact]
    public void RAdamTakesPlainStepsUntilRhoExceedsFive()
    {
        // β₂ = 0.999: ρₜ ≤ 5 for t ≤ 5, so the first five steps are p ← p − η·m/(1 − β₁ᵗ); with a constant gradient
        // m/(1 − β₁ᵗ) = g exactly in real arithmetic, so each step moves p by η·g. Step 6 is rectified and adaptive.
        var radam = new RAdam(1) { LearningRate = 0.01 };
        float[] p = [1];
        for (int t = 1; t <= 5; t++)
        {
            radam.Step(p, [1000]);
            Assert.Equal(1 - (t * 0.01 * 1000), p[0], 1e-3);
        }

        float before = p[0];
        radam.Step(p, [1000]);
        double bc1 = 1 - Math.Pow(0.9, 6), bc2 = 1 - Math.Pow(0.999, 6);
        double rhoInf = 1999, rhoT = rhoInf - (2 * 6 * Math.Pow(0.999, 6) / bc2);
        double rect = Math.Sqrt((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
        double v = 1000.0 * 1000 * bc2, m = 1000 * bc1;
        double step = 0.01 * rect * (m / bc1) * Math.Sqrt(bc2) / (Math.Sqrt(v) + 1e-8);
        Assert.True(rhoT > 5);
        Assert.Equal(before - step, p[0], 1e-4);
    }

    [Fact]
    public void AdadeltaKeepsItsDeltaAccumulator()
    {
        var adadelta = new Adadelta(1);
        float[] p = [0];
        adadelta.Step(p, [2]);
        double v = 0.1 * 4, u = Math.Sqrt(1e-6) / Math.Sqrt(v + 1e-6) * 2;
        Assert.Equal(-u, p[0], 1e-7);
        Assert.Equal(0.1 * u * u, adadelta.DeltaAccumulator[0], 1e-10);
        adadelta.Reset();
        Assert.Equal(0f, adadelta.DeltaAccumulator[0]);
    }
}
