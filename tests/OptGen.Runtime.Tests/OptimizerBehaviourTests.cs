using System;
using Xunit;

namespace OptGen.Runtime.Tests;

/// <summary>The optimizer object: argument checks that write nothing, hyperparameter validation, state, reset.</summary>
public sealed class OptimizerBehaviourTests
{
    [Fact]
    public void LengthMismatchThrowsBeforeWriting()
    {
        var adam = new Adam(8);
        float[] p = [1, 2, 3, 4, 5, 6, 7, 8];
        float[] before = (float[])p.Clone();

        var e1 = Assert.Throws<ArgumentException>(() => adam.Step(p, new float[7]));
        Assert.Equal("gradients", e1.ParamName);
        var e2 = Assert.Throws<ArgumentException>(() => adam.Step(new float[9], new float[8]));
        Assert.Equal("parameters", e2.ParamName);

        Assert.Equal(before, p);
        Assert.Equal(0, adam.StepCount);
        Assert.All(adam.FirstMoment.ToArray(), m => Assert.Equal(0f, m));
    }

    [Fact]
    public void OverlappingBuffersAreRejected()
    {
        var sgd = new Sgd(4);
        float[] buffer = new float[6];
        var e = Assert.Throws<ArgumentException>(() => sgd.Step(buffer.AsSpan(0, 4), buffer.AsSpan(2, 4)));
        Assert.Equal("gradients", e.ParamName);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(-1e-3)]
    [InlineData(double.PositiveInfinity)]
    public void InvalidLearningRateIsRejectedAndKept(double value)
    {
        var adam = new Adam(1) { LearningRate = 0.01 };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => adam.LearningRate = value);
        Assert.Equal("LearningRate", e.ParamName);
        Assert.Equal(0.01, adam.LearningRate);
    }

    [Fact]
    public void BetaMustBeBelowOne()
    {
        var adam = new Adam(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => adam.Beta1 = 1.0);
        Assert.Equal(0.9, adam.Beta1);
    }

    [Fact]
    public void HyperparametersByNameAndDescriptor()
    {
        var rms = new RmsProp(3);
        rms["Alpha"] = 0.9;
        Assert.Equal(0.9, rms.Alpha);
        Assert.Throws<ArgumentException>(() => rms["Beta2"] = 0.5);
        Assert.Equal("torch.optim.RMSprop", rms.Descriptor.Name);
        Assert.Equal(12, rms.Descriptor.BytesReadPerElement);
        Assert.Equal(8, rms.Descriptor.BytesWrittenPerElement);
        Assert.Equal(28, new Adam(1).Descriptor.BytesReadPerElement + new Adam(1).Descriptor.BytesWrittenPerElement);
    }

    [Fact]
    public void InitialAccumulatorValueFillsStateAndResetRestoresIt()
    {
        var adagrad = new MyAdagrad(5);
        Assert.All(adagrad.SecondMoment.ToArray(), s => Assert.Equal(0.1f, s));
        float[] p = new float[5];
        adagrad.Step(p, [1, 1, 1, 1, 1]);
        Assert.All(adagrad.SecondMoment.ToArray(), s => Assert.Equal(1.1f, s));
        adagrad.Reset();
        Assert.Equal(0, adagrad.StepCount);
        Assert.All(adagrad.SecondMoment.ToArray(), s => Assert.Equal(0.1f, s));
    }

    [Fact]
    public void SameRuleDeclaredTwoWaysHasOneRuleId()
    {
        // MyAdam uses lengths 10/1000; the catalog's Adam uses betas and adds weight decay and maximize.
        Assert.NotEqual(new MyAdam(1).Descriptor.RuleId, new Adam(1).Descriptor.RuleId);
        Assert.Equal(new MyAdam(1).Descriptor.RuleId, new MyAdam(2).Descriptor.RuleId);
    }

    [Fact]
    public void ZeroLengthStepsCount()
    {
        var adam = new Adam(0);
        adam.Step([], []);
        Assert.Equal(1, adam.StepCount);
    }
}
