using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;

namespace OptGen.Runtime.Tests;

/// <summary>
/// Checkpoints saved by an earlier build of OptGen, kept in <c>Fixtures/Checkpoints</c> so that a change to the
/// generator or to the checkpoint code cannot silently stop old checkpoints from loading (issue 16). Each fixture is
/// a <c>*.ckpt</c> written by <see cref="CheckpointFixtures.Write"/> and a <c>*.json</c> beside it with what the saving
/// optimizer held (step count, hyperparameters, state) and one more step taken by that optimizer after saving: its
/// gradients and the parameters and state it produced. The fixtures of today's files were written at commit 8a1dcd5.
/// </summary>
/// <remarks>
/// Add fixtures (a new catalog optimizer) on purpose: set <c>OPTGEN_WRITE_CHECKPOINT_FIXTURES</c> to the
/// Fixtures/Checkpoints folder and run
/// <c>dotnet test tests/OptGen.Runtime.Tests -c Release --filter FullyQualifiedName~CheckpointFixtures.Write</c>.
/// It writes only the fixtures that are not there yet: an existing fixture is what an earlier build saved, and
/// rewriting it with today's build would prove nothing about old checkpoints (delete one by hand to replace it).
/// Without the variable that test is skipped (it is not a check, it is the program that made the fixtures). NAdamW
/// and RAdamW were added at commit ee8db80, every other fixture at 8a1dcd5.
/// </remarks>
public sealed class CheckpointFixtures
{
    internal const string WriteVariable = "OPTGEN_WRITE_CHECKPOINT_FIXTURES";

    /// <summary>What the optimizer that saved a fixture held, and what its next step did.</summary>
    internal sealed record Fixture(
        string Optimizer,
        string RuleName,
        string RuleId,
        int[][] Layout,
        string StatePrecision,
        long StepCount,
        Dictionary<string, double>[] Hyperparameters,
        Dictionary<string, float[][]> State,
        float[][] Parameters,
        float[][] NextGradients,
        float[][] ParametersAfterNextStep,
        Dictionary<string, float[][]> StateAfterNextStep,
        long StepCountAfterNextStep);

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>The fixture folder in the source tree (found from the test binaries upwards).</summary>
    internal static string Folder()
    {
        string conformance = TrainingTestData.ConformanceFolder();
        return Path.Combine(Path.GetDirectoryName(conformance)!, "OptGen.Runtime.Tests", "Fixtures", "Checkpoints");
    }

    public static TheoryData<string> Names()
    {
        var names = new TheoryData<string>();
        foreach (string path in Directory.GetFiles(Folder(), "*.json").Order(StringComparer.Ordinal))
        {
            names.Add(Path.GetFileNameWithoutExtension(path));
        }

        return names;
    }

    [Fact]
    public void EveryRequiredFixtureIsPresent()
    {
        string[] present = [.. Directory.GetFiles(Folder(), "*.ckpt").Select(Path.GetFileNameWithoutExtension)!];
        string[] catalog = [.. Catalog().Select(t => t.Name)];
        Assert.Contains("NAdamW", catalog);
        foreach (string required in catalog.Concat(["Adam-2groups", "AdamW-bfloat16"]))
        {
            Assert.Contains(required, present);
            Assert.True(File.Exists(Path.Combine(Folder(), required + ".json")), required);
        }
    }

    /// <summary>
    /// A fixture loads into a fresh optimizer of the same class: the rule and format are accepted, the step count,
    /// hyperparameters and state are the saved ones, and one more step gives bit-for-bit the parameters and state
    /// that the saving optimizer's next step gave (so carried host scalars such as NAdam's Πμ were restored too).
    /// </summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void OldCheckpointLoadsAndContinuesBitIdentically(string name)
    {
        Fixture fixture = JsonSerializer.Deserialize<Fixture>(File.ReadAllText(Path.Combine(Folder(), name + ".json")), Json)!;
        Optimizer optimizer = Create(fixture);
        Assert.Equal(fixture.RuleName, optimizer.Descriptor.Name);

        optimizer.LoadCheckpoint(Path.Combine(Folder(), name + ".ckpt"));

        Assert.Equal(fixture.StepCount, optimizer.StepCount);
        for (int k = 0; k < fixture.Hyperparameters.Length; k++)
        {
            foreach ((string hyperparameter, double value) in fixture.Hyperparameters[k])
            {
                Assert.Equal(value, optimizer.Groups[k][hyperparameter]);
            }
        }

        AssertState(fixture.State, optimizer, "loaded");

        float[][] p = TrainingTestData.Clone(fixture.Parameters);
        TakeStep(optimizer, p, fixture.NextGradients);
        Assert.Equal(fixture.StepCountAfterNextStep, optimizer.StepCount);
        for (int j = 0; j < p.Length; j++)
        {
            TrainingTestData.AssertBitwiseEqual(fixture.ParametersAfterNextStep[j], p[j], $"{name}: parameters of tensor {j} after the next step");
        }

        AssertState(fixture.StateAfterNextStep, optimizer, "after the next step");
    }

    /// <summary>Writes every fixture (run by hand; see the class remarks).</summary>
    [WriterFact]
    public void Write()
    {
        string folder = Environment.GetEnvironmentVariable(WriteVariable)!;
        Directory.CreateDirectory(folder);
        foreach (Type type in Catalog())
        {
            WriteOne(folder, type.Name, type, new ParameterLayout([13]), bfloat16: false, steps: 6);
        }

        WriteOne(folder, "Adam-2groups", typeof(Adam), new ParameterLayout([5, 11], [7, 0, 9]), bfloat16: false, steps: 4);
        WriteOne(folder, "AdamW-bfloat16", typeof(AdamW), new ParameterLayout([17, 6]), bfloat16: true, steps: 4);
    }

    /// <summary>The catalog's optimizers (namespace OptGen), by name.</summary>
    private static Type[] Catalog()
    {
        Type[] catalog = [.. typeof(Optimizer).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(Optimizer)) && !t.IsAbstract && t.Namespace == "OptGen")
            .OrderBy(t => t.Name, StringComparer.Ordinal)];
        Assert.NotEmpty(catalog);
        return catalog;
    }

    private static void WriteOne(string folder, string name, Type type, ParameterLayout layout, bool bfloat16, int steps)
    {
        string checkpoint = Path.Combine(folder, name + ".ckpt"), description = Path.Combine(folder, name + ".json");
        if (File.Exists(checkpoint) && File.Exists(description))
        {
            return;
        }

        // Half a fixture is what a failed earlier run left: never completed from today's build.
        Assert.False(File.Exists(checkpoint) || File.Exists(description), $"{name}: only one of its two files is there; delete it and run again.");
        try
        {
            WriteNew(folder, name, type, layout, bfloat16, steps);
        }
        catch
        {
            File.Delete(checkpoint);
            File.Delete(description);
            throw;
        }
    }

    private static void WriteNew(string folder, string name, Type type, ParameterLayout layout, bool bfloat16, int steps)
    {

        var optimizer = (Optimizer)Activator.CreateInstance(type, layout)!;
        if (bfloat16)
        {
            optimizer.ChangeStatePrecision(OptGen.StatePrecision.BFloat16);
        }

        // Hyperparameters away from their defaults, so that restoring them is visible.
        if (optimizer.Descriptor.IndexOfHyperparameter("LearningRate") >= 0)
        {
            optimizer["LearningRate"] *= 0.5;
        }

        // Fixtures written since NAdamW and RAdamW (whose rules differ from NAdam's and RAdam's only in how the decay is
        // applied): a weight decay of 0 becomes 0.01, so the step after loading runs through it.
        if (optimizer.Descriptor.IndexOfHyperparameter("WeightDecay") >= 0 && optimizer["WeightDecay"] == 0)
        {
            optimizer["WeightDecay"] = 0.01;
        }

        if (layout.GroupCount > 1)
        {
            optimizer.Groups[1]["LearningRate"] = 0.03;
            optimizer.Groups[1]["Beta1"] = 0.8;
        }

        float[][] p = [.. Enumerable.Range(0, layout.TensorCount).Select(j => Values(layout.LengthOf(j), j, 0, 0.23, 1))];
        for (int t = 1; t <= steps; t++)
        {
            TakeStep(optimizer, p, Gradients(layout, t));
        }

        optimizer.SaveCheckpoint(Path.Combine(folder, name + ".ckpt"));
        float[][] saved = TrainingTestData.Clone(p);
        Dictionary<string, float[][]> state = StateByName(optimizer);
        long stepCount = optimizer.StepCount;

        float[][] next = Gradients(layout, steps + 1);
        TakeStep(optimizer, p, next);
        var fixture = new Fixture(
            type.FullName!,
            optimizer.Descriptor.Name,
            optimizer.Descriptor.RuleId,
            [.. Enumerable.Range(0, layout.GroupCount).Select(k => Enumerable.Range(layout.FirstTensorOf(k), layout.TensorCountOf(k)).Select(layout.LengthOf).ToArray())],
            optimizer.StatePrecision.ToString(),
            stepCount,
            [.. optimizer.Groups.Select(g => optimizer.Descriptor.Hyperparameters.ToDictionary(h => h.Name, h => g[h.Name]))],
            state,
            saved,
            next,
            p,
            StateByName(optimizer),
            optimizer.StepCount);

        // The fixture must pass its own check before it is written.
        string json = JsonSerializer.Serialize(fixture, Json);
        File.WriteAllText(Path.Combine(folder, name + ".json"), json + "\n");
        new CheckpointFixtures().OldCheckpointLoadsAndContinuesBitIdenticallyIn(folder, name);
    }

    private void OldCheckpointLoadsAndContinuesBitIdenticallyIn(string folder, string name)
    {
        Assert.Equal(Path.GetFullPath(folder), Path.GetFullPath(Folder()));
        OldCheckpointLoadsAndContinuesBitIdentically(name);
    }

    /// <summary>The optimizer (type, layout, state precision) that saved fixture <paramref name="name"/>, fresh.</summary>
    internal static Optimizer Create(string name) =>
        Create(JsonSerializer.Deserialize<Fixture>(File.ReadAllText(Path.Combine(Folder(), name + ".json")), Json)!);

    private static Optimizer Create(Fixture fixture)
    {
        Type type = typeof(Optimizer).Assembly.GetType(fixture.Optimizer, throwOnError: true)!;
        var optimizer = (Optimizer)Activator.CreateInstance(type, new ParameterLayout([.. fixture.Layout.Select(g => (IReadOnlyList<int>)g)]))!;
        optimizer.ChangeStatePrecision(Enum.Parse<StatePrecision>(fixture.StatePrecision));
        return optimizer;
    }

    private static void TakeStep(Optimizer optimizer, float[][] p, float[][] g)
    {
        if (p.Length == 1)
        {
            optimizer.Step(p[0], g[0]);
        }
        else
        {
            optimizer.Step(TrainingTestData.AsMemory(p), TrainingTestData.AsReadOnly(g));
        }
    }

    private static void AssertState(Dictionary<string, float[][]> expected, Optimizer optimizer, string when)
    {
        Assert.Equal(optimizer.Descriptor.States.Select(s => s.Name).Order(StringComparer.Ordinal), expected.Keys.Order(StringComparer.Ordinal));
        Dictionary<string, float[][]> actual = StateByName(optimizer);
        foreach ((string name, float[][] tensors) in expected)
        {
            for (int j = 0; j < tensors.Length; j++)
            {
                TrainingTestData.AssertBitwiseEqual(tensors[j], actual[name][j], $"{name} of tensor {j} {when}");
            }
        }
    }

    private static Dictionary<string, float[][]> StateByName(Optimizer optimizer) =>
        optimizer.Descriptor.States.ToDictionary(
            s => s.Name,
            s => Enumerable.Range(0, optimizer.Layout.TensorCount).Select(j =>
            {
                var values = new float[optimizer.StateLength(s.Name, j)];
                optimizer.CopyState(s.Name, j, values);
                return values;
            }).ToArray());

    private static float[][] Gradients(ParameterLayout layout, int t) =>
        [.. Enumerable.Range(0, layout.TensorCount).Select(j => Values(layout.LengthOf(j), j, t, 0.37, 0.5 + (0.25 * j)))];

    /// <summary>Deterministic data: a sine of the element, tensor and step (the JSON keeps every value, so nothing recomputes it).</summary>
    private static float[] Values(int n, int tensor, int t, double frequency, double scale) =>
        [.. Enumerable.Range(0, n).Select(i => (float)(scale * Math.Sin((frequency * (i + 1)) + (1.71 * t) + (0.5 * tensor))))];

    /// <summary>A fact that runs only when <see cref="WriteVariable"/> names the folder to write the fixtures to.</summary>
    private sealed class WriterFactAttribute : FactAttribute
    {
        public WriterFactAttribute()
        {
            if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(WriteVariable)))
            {
                Skip = $"Writes the checkpoint fixtures; set {WriteVariable} to run it.";
            }
        }
    }
}
