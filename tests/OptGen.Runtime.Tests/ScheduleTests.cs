using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests;

/// <summary>Schedules against their closed forms, against torch.optim.lr_scheduler data, and driving optimizers.</summary>
public sealed class ScheduleTests
{
    private static readonly long[] Steps = [0, 1, 2, 5, 9, 10, 11, 24, 25, 39, 40, 41, 99, 1000];

    private static void AssertClosedForm(Schedule schedule, Func<long, double> closedForm)
    {
        foreach (long k in Steps)
        {
            double expected = closedForm(k);
            Assert.True(Math.Abs(schedule.ValueAt(k) - expected) <= 1e-15 * Math.Max(1, Math.Abs(expected)), $"step {k}: {schedule.ValueAt(k):R} vs {expected:R}");
        }
    }

    [Fact]
    public void EveryScheduleMatchesItsClosedForm()
    {
        AssertClosedForm(Schedule.Constant(0.3), _ => 0.3);
        AssertClosedForm(Schedule.Step(0.1, 10, 0.5), k => 0.1 * Math.Pow(0.5, Math.Floor(k / 10.0)));
        AssertClosedForm(Schedule.MultiStep(0.1, [10, 25, 40], 0.1), k => 0.1 * Math.Pow(0.1, (k >= 10 ? 1 : 0) + (k >= 25 ? 1 : 0) + (k >= 40 ? 1 : 0)));
        AssertClosedForm(Schedule.Exponential(0.1, 0.95), k => 0.1 * Math.Pow(0.95, k));
        AssertClosedForm(Schedule.Cosine(0.1, 40, 1e-3), k => 1e-3 + ((0.1 - 1e-3) * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(k, 40) / 40))));
        AssertClosedForm(Schedule.Linear(0.01, 0.1, 10), k => 0.01 + (0.09 * Math.Min(k, 10) / 10));
        AssertClosedForm(Schedule.InverseSquareRoot(0.1), k => 0.1 / Math.Sqrt(k + 1));
        AssertClosedForm(Schedule.InverseSquareRoot(0.1, 0.5), k => 0.1 / Math.Sqrt(1 + (0.5 * k)));
        AssertClosedForm(Schedule.InverseTime(0.1), k => 0.1 / (k + 1));
        AssertClosedForm(Schedule.InverseTime(0.1, 0.01), k => 0.1 / (1 + (0.01 * k)));
        AssertClosedForm(
            Schedule.Step(0.1, 10, 0.5).WithWarmup(5, 0.2),
            k => k < 5 ? 0.1 * (0.2 + (0.8 * k / 5)) : 0.1 * Math.Pow(0.5, Math.Floor((k - 5) / 10.0)));
        AssertClosedForm(
            Schedule.Linear(1e-4, 1e-3, 10).Then(10, Schedule.Linear(1e-3, 0, 90)),
            k => k < 10 ? 1e-4 + (9e-4 * k / 10) : 1e-3 * (1 - (Math.Min(k - 10, 90) / 90.0)));

        // One cycle (cos): start = max/25 at k = 0, the peak at k = 0.3·T − 1, max/25/1e4 at k = T − 1.
        Schedule oneCycle = Schedule.OneCycle(0.1, 50);
        Assert.Equal(0.004, oneCycle.ValueAt(0), 1e-17);
        Assert.Equal(0.1, oneCycle.ValueAt(14), 1e-17);
        Assert.Equal(4e-7, oneCycle.ValueAt(49), 1e-20);
        Assert.Equal(4e-7 + ((0.1 - 4e-7) * 0.5 * (1 + Math.Cos(Math.PI * 10 / 35))), oneCycle.ValueAt(24), 1e-16);
        Schedule linearCycle = Schedule.OneCycle(0.1, 50, anneal: AnnealStrategy.Linear);
        Assert.Equal(0.004 + (0.096 * 7 / 14), linearCycle.ValueAt(7), 1e-16);
    }

    [Fact]
    public void OneCycleTakesOneCycleLrsFivePositionalNumbersAsATorchUserWritesThem()
    {
        // OneCycleLR(max_lr=0.01, total_steps=1000, pct_start=0.3, div_factor=25, final_div_factor=1e4), positionally
        // with integer literals: this call was ambiguous (CS0121) while the start/peak/end form was an overload.
        Schedule schedule = Schedule.OneCycle(0.01, 1000, 0.3, 25, 1e4);
        Assert.Equal(0.01 / 25, schedule.ValueAt(0), 1e-18);
        Assert.Equal(0.01, schedule.ValueAt(299), 1e-18);
        Assert.Equal(0.01 / 25 / 1e4, schedule.ValueAt(999), 1e-22);
    }

    [Fact]
    public void InverseTimeMeetsTheLectureConditions()
    {
        // ηₜ → 0 while Σηₜ grows without bound (like ln t); 1/√t as well.
        foreach (Schedule schedule in new[] { Schedule.InverseTime(1), Schedule.InverseSquareRoot(1) })
        {
            Assert.True(schedule.ValueAt(10_000_000) < 1e-3);
            double sum = 0;
            for (long k = 0; k < 1_000_000; k++)
            {
                sum += schedule.ValueAt(k);
            }

            Assert.True(sum > Math.Log(1_000_000), $"partial sum {sum}");
        }
    }

    public static TheoryData<string> TorchFiles => new(Directory.GetFiles(Path.Combine(ConformanceFolder(), "schedules"), "*.json").Select(Path.GetFileNameWithoutExtension).Order()!);

    /// <summary>The OptGen schedule equivalent to one torch scheduler, built from its recorded constructor arguments.</summary>
    private static Schedule FromTorch(string scheduler, JsonElement a, double baseLr)
    {
        switch (scheduler)
        {
            case "StepLR":
                return Schedule.Step(baseLr, a.GetProperty("step_size").GetInt64(), a.GetProperty("gamma").GetDouble());
            case "MultiStepLR":
                return Schedule.MultiStep(baseLr, [.. a.GetProperty("milestones").EnumerateArray().Select(m => m.GetInt64())], a.GetProperty("gamma").GetDouble());
            case "ExponentialLR":
                return Schedule.Exponential(baseLr, a.GetProperty("gamma").GetDouble());
            case "CosineAnnealingLR":
                return Schedule.Cosine(baseLr, a.GetProperty("T_max").GetInt64(), a.GetProperty("eta_min").GetDouble());
            case "LinearLR":
                return Schedule.Linear(baseLr * a.GetProperty("start_factor").GetDouble(), baseLr * a.GetProperty("end_factor").GetDouble(), a.GetProperty("total_iters").GetInt64());
            case "OneCycleLR":
                Assert.Equal("cos", a.GetProperty("anneal_strategy").GetString());
                Assert.False(a.GetProperty("three_phase").GetBoolean());
                return Schedule.OneCycle(
                    a.GetProperty("max_lr").GetDouble(),
                    a.GetProperty("total_steps").GetInt64(),
                    a.GetProperty("pct_start").GetDouble(),
                    a.GetProperty("div_factor").GetDouble(),
                    a.GetProperty("final_div_factor").GetDouble());
            case "SequentialLR":
                JsonElement[] children = [.. a.GetProperty("schedulers").EnumerateArray()];
                long[] milestones = [.. a.GetProperty("milestones").EnumerateArray().Select(m => m.GetInt64())];
                Assert.Equal(2, children.Length);
                Schedule first = FromTorch(children[0].GetProperty("scheduler").GetString()!, children[0].GetProperty("arguments"), baseLr);
                Schedule second = FromTorch(children[1].GetProperty("scheduler").GetString()!, children[1].GetProperty("arguments"), baseLr);
                return first.Then(milestones[0], second);
            case "LambdaLR":
                return a.GetProperty("lr_lambda").GetString() switch
                {
                    "1 / sqrt(epoch + 1)" => Schedule.InverseSquareRoot(baseLr),
                    "1 / (epoch + 1)" => Schedule.InverseTime(baseLr),
                    // Linear warm-up to the peak at epoch 9, then the inverse square root: √(10/(e+1)) = 1/√(1 + (e−9)/10).
                    "min((epoch + 1) / 10, sqrt(10 / (epoch + 1)))" => Schedule.InverseSquareRoot(baseLr, 0.1).WithWarmup(9, 0.1),
                    var other => throw new NotSupportedException(other),
                };
            default:
                throw new NotSupportedException(scheduler);
        }
    }

    [Theory]
    [MemberData(nameof(TorchFiles))]
    public void MatchesTorchLrScheduler(string name)
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(Path.Combine(ConformanceFolder(), "schedules", name + ".json")));
        JsonElement root = document.RootElement;
        double baseLr = root.GetProperty("base_lr").GetDouble();
        Schedule schedule = FromTorch(root.GetProperty("scheduler").GetString()!, root.GetProperty("arguments"), baseLr);
        double[] lr = [.. root.GetProperty("lr").EnumerateArray().Select(x => x.GetDouble())];
        Assert.Equal(root.GetProperty("steps").GetInt32(), lr.Length);

        // lr[t−1] is the value torch's optimizer step t used: the schedule at StepCount = t − 1.
        for (int t = 1; t <= lr.Length; t++)
        {
            double error = Math.Abs(schedule.ValueAt(t - 1) - lr[t - 1]);
            Assert.True(error <= 1e-12 * baseLr, $"{name}, step {t}: {schedule.ValueAt(t - 1):R} vs torch {lr[t - 1]:R}");
        }
    }

    [Fact]
    public void ScheduleDrivesTheLearningRateOfSgd()
    {
        Schedule schedule = Schedule.Cosine(0.1, 20).WithWarmup(5, 0.1);
        var sgd = new Sgd(new ParameterLayout([17], [40])) { WeightDecay = 0 };
        sgd.SetSchedule("LearningRate", schedule);
        var random = new Random(3);
        float[][] p = Tensors(random, [17, 40]);
        float[][] expected = Clone(p);
        for (int t = 1; t <= 30; t++)
        {
            float[][] g = Tensors(random, [17, 40]);
            sgd.Step(AsMemory(p), AsReadOnly(g));
            double lr = schedule.ValueAt(t - 1);
            Assert.Equal(lr, sgd.LearningRate);
            Assert.Equal(lr, sgd.Groups[1]["LearningRate"]);
            for (int j = 0; j < 2; j++)
            {
                for (int i = 0; i < expected[j].Length; i++)
                {
                    expected[j][i] = (float)(expected[j][i] - (lr * g[j][i]));
                }

                NumericalTests.AssertClose($"tensor {j}", expected[j].Length, t, expected[j], p[j]);
            }
        }

        // The single-tensor API applies schedules too.
        var single = new Sgd(3);
        single.SetSchedule("LearningRate", Schedule.Exponential(1, 0.5));
        single.Step(new float[3], new float[3]);
        single.Step(new float[3], new float[3]);
        Assert.Equal(0.5, single.LearningRate);
    }

    [Fact]
    public void AnyHyperparameterCanBeScheduledPerGroup()
    {
        // One-cycle momentum (0.95 → 0.85 → 0.95) on group 1 only; the weight decay of every group decays.
        var sgd = new SgdMomentum(new ParameterLayout([4], [4]));
        Schedule momentum = Schedule.OneCycleThrough(0.95, 0.85, 0.95, totalSteps: 10, warmupFraction: 0.3);
        Schedule decay = Schedule.Exponential(1e-2, 0.5);
        sgd.Groups[1].SetSchedule("Momentum", momentum);
        sgd.SetSchedule("WeightDecay", decay);
        var seen = new List<(double, double, double)>();
        for (int t = 0; t < 10; t++)
        {
            sgd.Step([new float[4], new float[4]], [new float[4], new float[4]]);
            seen.Add((sgd.Groups[0]["Momentum"], sgd.Groups[1]["Momentum"], sgd.Groups[1]["WeightDecay"]));
        }

        for (int k = 0; k < 10; k++)
        {
            Assert.Equal(0.9, seen[k].Item1);
            Assert.Equal(momentum.ValueAt(k), seen[k].Item2);
            Assert.Equal(decay.ValueAt(k), seen[k].Item3);
        }

        Assert.Equal(0.85, momentum.ValueAt(2), 1e-15);

        // Unscheduling stops it.
        sgd.Groups[1].SetSchedule("Momentum", null);
        sgd.Groups[1]["Momentum"] = 0.5;
        sgd.Step([new float[4], new float[4]], [new float[4], new float[4]]);
        Assert.Equal(0.5, sgd.Groups[1]["Momentum"]);
    }

    [Fact]
    public void AGroupScheduleOverridesTheEveryGroupScheduleOnlyThere()
    {
        var sgd = new Sgd(new ParameterLayout([2], [2], [2]));
        Schedule all = Schedule.Exponential(0.1, 0.5), own = Schedule.Constant(0.02);
        sgd.Groups[1].SetSchedule("LearningRate", own);
        sgd.SetSchedule("LearningRate", all); // replaces group 1's own schedule too
        sgd.Groups[2].SetSchedule("LearningRate", own);
        for (int t = 0; t < 3; t++)
        {
            sgd.Step([new float[2], new float[2], new float[2]], [new float[2], new float[2], new float[2]]);
        }

        Assert.Equal(all.ValueAt(2), sgd.Groups[0]["LearningRate"]);
        Assert.Equal(all.ValueAt(2), sgd.Groups[1]["LearningRate"]);
        Assert.Equal(0.02, sgd.Groups[2]["LearningRate"]);

        // Removing group 2's own schedule hands it back to the every-group one.
        sgd.Groups[2].SetSchedule("LearningRate", null);
        sgd.Step([new float[2], new float[2], new float[2]], [new float[2], new float[2], new float[2]]);
        Assert.Equal(all.ValueAt(3), sgd.Groups[2]["LearningRate"]);
    }

    [Fact]
    public void ScheduleOutOfRangeWritesNothing()
    {
        var sgd = new Sgd(4) { LearningRate = 0.1 };
        sgd.SetSchedule("LearningRate", Schedule.Linear(0.1, -0.1, 2));
        float[] p = [1, 2, 3, 4];
        sgd.Step(p, [1, 1, 1, 1]);
        sgd.Step(p, [1, 1, 1, 1]);
        float[] before = (float[])p.Clone();
        var e = Assert.Throws<InvalidOperationException>(() => sgd.Step(p, [1, 1, 1, 1]));
        Assert.Contains("LearningRate", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, p);
        Assert.Equal(2, sgd.StepCount);
        Assert.Equal("hyperparameter", Assert.Throws<ArgumentException>(() => sgd.SetSchedule("Nope", Schedule.Constant(1))).ParamName);
    }

    [Fact]
    public void BadScheduleArgumentsNameTheArgument()
    {
        Assert.Equal("stepSize", Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Step(1, 0, 0.5)).ParamName);
        Assert.Equal("milestones", Assert.Throws<ArgumentException>(() => Schedule.MultiStep(1, [5, 5], 0.5)).ParamName);
        Assert.Equal("steps", Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Cosine(1, 0)).ParamName);
        Assert.Equal("warmupFraction", Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.OneCycle(1, 10, warmupFraction: 0.05)).ParamName);
        Assert.Equal("next", Assert.Throws<ArgumentNullException>(() => Schedule.Constant(1).Then(3, null!)).ParamName);
        Assert.Equal("step", Assert.Throws<ArgumentOutOfRangeException>(() => Schedule.Constant(1).ValueAt(-1)).ParamName);
    }
}
