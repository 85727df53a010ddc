using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;

namespace OptGen.Runtime.Tests.Conformance;

/// <summary>
/// What the runner makes of case files written by others: the forms a SCHEMA-conforming file may take (integers for
/// floats, left-out defaults, Python's NaN literals, extra fields, torch.optim 2.x's extra keys) are read as PyTorch
/// means them, and what it cannot run is an error that names the key — never a silent skip or a crash.
/// </summary>
public sealed class ConformanceInputTests
{
    /// <summary>Loads a case from JSON text (through a temporary file, as the runner reads cases).</summary>
    public static ConformanceCase LoadText(string json)
    {
        string path = Path.Combine(Path.GetTempPath(), $"optgen-case-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        try
        {
            return ConformanceCase.Load(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static Dictionary<string, JsonElement> Keys(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal);
    }

    private static CatalogConfiguration Describe(string optimizer, string json) => CatalogFactory.Describe(optimizer, Keys(json));

    private static double Setting(CatalogConfiguration configuration, string property) =>
        configuration.Settings.Single(s => s.Property == property).Value;

    [Fact]
    public void MissingKeysTakePyTorchDefaults()
    {
        CatalogConfiguration sgd = Describe("SGD", "{}");
        Assert.Equal(typeof(Sgd), sgd.Type);
        Assert.Equal(1e-3, Setting(sgd, "LearningRate")); // torch.optim.SGD's default since PyTorch 2.2

        CatalogConfiguration adamW = Describe("AdamW", "{}");
        Assert.Equal(typeof(AdamW), adamW.Type);
        Assert.Equal(1e-2, Setting(adamW, "WeightDecay"));
        Assert.Equal(0.999, Setting(adamW, "Beta2"));
        Assert.Equal(1e-10, Setting(Describe("Adagrad", "{}"), "Epsilon"));
        Assert.Equal(1e-6, Setting(Describe("Adadelta", "{}"), "Epsilon"));
        Assert.Equal(2e-3, Setting(Describe("NAdam", "{}"), "LearningRate"));
        Assert.Equal(OptGen.Adafactor.Float32Epsilon, Setting(Describe("adafactor", "{}"), "Epsilon1"));
    }

    [Fact]
    public void IntegersAreNumbers()
    {
        CatalogConfiguration c = Describe("Adam", """{"lr": 1, "betas": [0, 0.999], "eps": 1e-8, "weight_decay": 0}""");
        Assert.Equal(1.0, Setting(c, "LearningRate"));
        Assert.Equal(0.0, Setting(c, "Beta1"));
        Optimizer optimizer = c.Create(3);
        Assert.Equal(0.0, optimizer["Beta1"]);
    }

    [Theory]
    [InlineData("Adam", """{"decoupled_weight_decay": true}""", typeof(AdamW))]
    [InlineData("Adam", """{"decoupled_weight_decay": true, "amsgrad": true}""", typeof(AdamWAmsGrad))]
    [InlineData("AdamW", """{"decoupled_weight_decay": false}""", typeof(Adam))]
    [InlineData("NAdam", """{"decoupled_weight_decay": true, "weight_decay": 0}""", typeof(NAdamW))]
    [InlineData("NAdam", """{"decoupled_weight_decay": true, "weight_decay": 0.1, "momentum_decay": 0.01}""", typeof(NAdamW))]
    [InlineData("NAdam", """{"decoupled_weight_decay": false, "weight_decay": 0.1}""", typeof(NAdam))]
    [InlineData("RAdam", """{"decoupled_weight_decay": true, "weight_decay": 0.1, "maximize": true}""", typeof(RAdamW))]
    [InlineData("RAdam", """{"decoupled_weight_decay": false, "weight_decay": 0.1, "maximize": true}""", typeof(RAdam))]
    [InlineData("Adam", """{"foreach": null, "fused": false, "capturable": false, "differentiable": false}""", typeof(Adam))]
    [InlineData("SGD", """{"lr": 0.1, "momentum": 0.9, "foreach": false, "fused": null, "differentiable": false}""", typeof(SgdMomentum))]
    [InlineData("adafactor", """{"foreach": null}""", typeof(OptGen.Adafactor))]
    [InlineData("RMSprop", """{"momentum": 0.5, "centered": true, "capturable": true}""", typeof(RmsPropCenteredMomentum))]
    public void PyTorch2KeysSelectTheSameRule(string optimizer, string json, Type type) =>
        Assert.Equal(type, Describe(optimizer, json).Type);

    [Theory]
    [InlineData("Adam", """{"eps": 0}""", "'eps'")]
    [InlineData("RMSprop", """{"alpha": 1.5}""", "'alpha'")]
    [InlineData("lars", """{"lr": 0.1, "momentum": -0.5}""", "'momentum'")]
    [InlineData("Adam", """{"betas": [0.9, 1.0]}""", "'betas'")]
    public void ValuesOptGenRefusesNameTheKey(string optimizer, string json, string key)
    {
        CatalogConfiguration configuration = Describe(optimizer, json);
        ArgumentException error = Assert.ThrowsAny<ArgumentException>(() => configuration.Create(4));
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
        Assert.Equal(key.Trim('\''), error.ParamName);
    }

    [Fact]
    public void AValueRefusedWhenTheRuleStepsNamesTheKey()
    {
        // torch.optim.Adafactor refuses d < 1 in its constructor; OptGen's Adafactor when the runner sets it.
        ConformanceCase c = LoadText("{\"name\":\"small_d\",\"optimizer\":\"adafactor\",\"hyperparameters\":{\"d\":0.5},\"n\":2,\"T\":1,"
            + "\"p0\":[1,2],\"grads\":[[1,1]],\"params_after_each_step\":[[1,2]]}");
        ArgumentException error = Assert.ThrowsAny<ArgumentException>(() => ConformanceRunner.Run(c));
        Assert.Equal("d", error.ParamName);
        Assert.Contains("the hyperparameter 'd' sets ClipThreshold = 0.5, which OptGen refuses", error.Message, StringComparison.Ordinal);
    }

    private const string Vector = "\"optimizer\":\"SGD\",\"hyperparameters\":{\"lr\":0.5},\"n\":2,\"T\":1,\"p0\":[1,2],\"grads\":[[1,1]]";

    [Fact]
    public void PythonNonFiniteLiteralsAreRead()
    {
        ConformanceCase c = LoadText("{\"name\":\"nan\"," + Vector + ",\"params_after_each_step\":[[NaN,-Infinity]],\"description\":\"NaN Infinity\"}");
        Assert.True(float.IsNaN(c.Expected[0][0]));
        Assert.Equal(float.NegativeInfinity, c.Expected[0][1]);
        Assert.Empty(c.UnusedFields);

        // The runner's p is finite where the reference is not: the case fails, it does not pass or crash.
        ConformanceResult result = ConformanceRunner.Run(c);
        Assert.False(result.Passed);
        Assert.Contains("FAIL", result.Line, StringComparison.Ordinal);
    }

    [Fact]
    public void FieldsOutsideSchemaAreListedAndWholeFloatsAreCounts()
    {
        ConformanceCase c = LoadText("{\"name\":\"extra\",\"seed\":7,\"torch_version\":\"2.5.1\",\"optimizer\":\"SGD\",\"hyperparameters\":{\"lr\":0.5},"
            + "\"n\":2.0,\"T\":1,\"p0\":[1,2],\"grads\":[[1,1]],\"params_after_each_step\":[[0.5,1.5]],\"rtol\":0}");
        Assert.Equal(["seed", "torch_version"], c.UnusedFields);
        Assert.Equal(2, c.Length);
        Assert.True(ConformanceRunner.Run(c).Passed);
    }

    [Theory]
    [InlineData("\"p0\":[1,\"2\"]", "p0 holds \"2\"")]
    [InlineData("\"rtol\":-1", "rtol must be")]
    [InlineData("\"n\":2.5", "n must be a whole number")]
    [InlineData("\"dtype\":\"float64\"", "dtype 'float64'")]
    [InlineData("\"lr_per_step\":[NaN]", "lr_per_step holds a value that is not finite")]
    [InlineData("\"hyperparameters\":[1]", "hyperparameters is not a JSON object")]
    [InlineData("\"hyperparameters\":{\"lr\":0.5,\"lr\":0.25}", "'hyperparameters' names the field 'lr' twice")]
    [InlineData("\"T\":0", "T must be at least 1")]
    [InlineData("\"p0\":[\"NaN\",2]", "p0 holds \"NaN\", which is not a number")]
    [InlineData("\"p0\":[1e39,2]", "p0 holds 1e39, which is beyond float32's range")]
    [InlineData("\"p0\":[1e400,2]", "p0 holds 1e400, which is not a number")]
    [InlineData("\"params_after_each_step\":[[\"Infinity\",1.5]]", "params_after_each_step holds \"Infinity\", which is not a number")]
    public void MalformedFilesAreErrorsNamingTheField(string field, string message)
    {
        var fields = new Dictionary<string, string>
        {
            ["name"] = "\"bad\"", ["optimizer"] = "\"SGD\"", ["hyperparameters"] = "{\"lr\":0.5}", ["n"] = "2", ["T"] = "1",
            ["p0"] = "[1,2]", ["grads"] = "[[1,1]]", ["params_after_each_step"] = "[[0.5,1.5]]",
        };
        string key = field[1..field.IndexOf('"', 1)];
        fields[key] = field[(field.IndexOf(':') + 1)..];
        string json = "{" + string.Join(",", fields.Select(f => $"\"{f.Key}\":{f.Value}")) + "}";
        InvalidDataException error = Assert.Throws<InvalidDataException>(() => LoadText(json));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"name\":\"a\",\"name\":\"b\"}", "the file names the field 'name' twice")]
    [InlineData("{\"name\":\"a\",", "the file is not valid JSON")]
    [InlineData("", "the file is not valid JSON")]
    [InlineData("[1]", "the file is not a JSON object")]
    public void FilesThatAreNotOneCaseAreErrors(string json, string message)
    {
        InvalidDataException error = Assert.Throws<InvalidDataException>(() => LoadText(json));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"optimizer\":\"SGD\",\"hyperparameters\":{\"lr\":0.5},\"params_eval_after_each_step\":[[0.5,1.5]]", "params_eval_after_each_step", "defined only for adamw_schedulefree")]
    [InlineData("\"optimizer\":\"lars\",\"hyperparameters\":{\"lr\":0.5},\"params_eval_after_each_step\":[[0.5,1.5]]", "params_eval_after_each_step", "not for 'lars'")]
    [InlineData("\"optimizer\":\"SGD\",\"hyperparameters\":{\"lr\":0.5},\"lr_per_step\":[-0.5]", "lr_per_step", "lr_per_step[0] = -0.5 (step 1)")]
    [InlineData("\"optimizer\":\"SGD\",\"hyperparameters\":{\"lr\":NaN}", "lr", "'lr' must be a finite JSON number, but is NaN")]
    [InlineData("\"optimizer\":\"SGD\",\"hyperparameters\":{\"lr\":1e400}", "lr", "'lr' must be a finite JSON number, but is 1e400")]
    [InlineData("\"optimizer\":\"Adam\",\"hyperparameters\":{\"betas\":[0.9,Infinity]}", "betas", "list of two finite numbers, but is [0.9,Infinity]")]
    [InlineData("\"optimizer\":\"adam_mini\",\"hyperparameters\":{\"lr\":0.5}", "block", "'block' is required")]
    [InlineData("\"optimizer\":\"adam_mini\",\"hyperparameters\":{\"lr\":0.5,\"block\":0}", "block", "'block' must be a whole number of elements >= 1")]
    [InlineData("\"optimizer\":\"adam_mini\",\"hyperparameters\":{\"lr\":0.5,\"block\":2.5}", "block", "'block' must be a whole number of elements >= 1")]
    public void CasesTheRunnerCannotRunAreErrorsNamingTheField(string fields, string key, string message)
    {
        ConformanceCase c = LoadText("{\"name\":\"bad\"," + fields + ",\"n\":2,\"T\":1,\"p0\":[1,2],\"grads\":[[1,1]],\"params_after_each_step\":[[0.5,1.5]]}");
        ArgumentException error = Assert.ThrowsAny<ArgumentException>(() => ConformanceRunner.Run(c));
        Assert.Equal(key, error.ParamName);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("adam_default.json")]
    [InlineData("lamb_multi_tensor.json")]
    public void AMutatedCaseFailsAtTheSchemasTolerance(string file)
    {
        // SCHEMA: pass when max |p - p_ref| <= rtol * max |p_ref| over all steps and elements, rtol 5e-6 when absent.
        string path = Path.Combine(ConformanceCase.RepositoryRoot(), "tests", "conformance", "cases", file);
        ConformanceResult Run(Action<ConformanceCase> mutate)
        {
            ConformanceCase c = ConformanceCase.Load(path);
            mutate(c);
            return ConformanceRunner.Run(c);
        }

        ConformanceCase original = ConformanceCase.Load(path);
        double bound = original.RelativeTolerance * original.Expected.SelectMany(r => r).Max(v => Math.Abs((double)v));
        ConformanceResult clean = Run(_ => { });
        Assert.True(clean.Passed, clean.Line);
        double slack = bound - clean.Errors.MaxError;
        Assert.True(slack > 0);

        // One element of one step moved by 2x the bound (beyond any error the case had): FAIL, and the line says where.
        int t = original.Steps / 2;
        ConformanceResult moved = Run(c => c.Expected[t][1] += (float)(2 * bound));
        Assert.False(moved.Passed, moved.Line);
        Assert.Contains("FAIL", moved.Line, StringComparison.Ordinal);
        Assert.StartsWith($"step {t + 1}, element 1:", moved.FirstFailure, StringComparison.Ordinal);

        // The same case with a looser rtol in the file passes again: the file's rtol is the one used.
        ConformanceResult loose = Run(c => c.Expected[t][1] += (float)(2 * bound));
        Assert.True(new ConformanceResult(loose.Name, loose.Errors, original.RelativeTolerance * 4).Passed);

        // A NaN in the runner's parameters where the reference is finite fails even though NaN compares false.
        ConformanceResult gradient = Run(c => c.Gradients[t][0] = float.NaN);
        Assert.False(gradient.Passed, gradient.Line);

        // One gradient element of step 1 negated: the trajectory moves and the case fails.
        ConformanceResult flipped = Run(c => c.Gradients[0][2] = -c.Gradients[0][2]);
        Assert.False(flipped.Passed, flipped.Line);
    }

    [Fact]
    public void AnOutsidePathIsResolvedToAFullPath()
    {
        string folder = Path.GetTempPath();
        Assert.Equal(Path.GetFullPath(folder), ConformanceCase.ResolveOutsidePath(folder));
        Assert.True(Path.IsPathRooted(ConformanceCase.ResolveOutsidePath("some/relative/folder")));
    }
}
