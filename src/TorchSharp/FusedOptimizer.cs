using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OptGen.TorchSharp;

/// <summary>Creates <see cref="FusedOptimizer{TOptimizer}"/>s with the OptGen optimizer's type inferred.</summary>
public static class FusedOptimizer
{
    /// <summary>
    /// A TorchSharp optimizer over <paramref name="parameters"/> (one group) that steps with the OptGen optimizer
    /// <paramref name="create"/> makes for their layout, e.g. <c>layout =&gt; new AdamW(layout) { LearningRate = 1e-3 }</c>.
    /// </summary>
    /// <exception cref="ArgumentException">A parameter is not a contiguous CPU tensor of a supported dtype, or appears twice.</exception>
    public static FusedOptimizer<TOptimizer> Create<TOptimizer>(IEnumerable<Parameter> parameters, Func<ParameterLayout, TOptimizer> create)
        where TOptimizer : Optimizer => new(parameters, create);

    /// <summary>As <see cref="Create{TOptimizer}(IEnumerable{Parameter}, Func{ParameterLayout, TOptimizer})"/>, with names for error messages (<c>module.named_parameters()</c>).</summary>
    public static FusedOptimizer<TOptimizer> Create<TOptimizer>(IEnumerable<(string name, Parameter parameter)> parameters, Func<ParameterLayout, TOptimizer> create)
        where TOptimizer : Optimizer => new(parameters, create);

    /// <summary>As <see cref="Create{TOptimizer}(IEnumerable{Parameter}, Func{ParameterLayout, TOptimizer})"/>, with parameter groups that set their own hyperparameters.</summary>
    public static FusedOptimizer<TOptimizer> Create<TOptimizer>(IEnumerable<FusedParamGroup> groups, Func<ParameterLayout, TOptimizer> create)
        where TOptimizer : Optimizer => new(groups, create);
}

/// <summary>
/// A <c>torch.optim</c> optimizer for TorchSharp models backed by an OptGen optimizer: <c>step()</c>,
/// <c>zero_grad()</c>, parameter groups with their own hyperparameters, learning-rate schedulers
/// (<c>torch.optim.lr_scheduler</c>, through <see cref="torch.optim.ILearningRateController"/>, and momentum cycling
/// through <see cref="torch.optim.IMomentum"/> and <see cref="torch.optim.IBetas"/>),
/// <c>state_dict()</c>/<c>load_state_dict()</c> and OptGen checkpoints. A step updates every parameter in place
/// with the generated fused kernel, in one multi-tensor call on the tensors' own memory (nothing is copied).
/// </summary>
/// <remarks>
/// <para>Parameters must be contiguous CPU tensors, all float32, all float16 or all bfloat16 (math and state in
/// float32); their gradients the same dtype. One tensor of the OptGen <see cref="ParameterLayout"/> per parameter, one
/// layout group per parameter group, in order.</para>
/// <para>Every parameter is stepped in every step with one step count (OptGen's <see cref="Optimizer.StepCount"/>):
/// a step where no parameter has a gradient does nothing, as in TorchSharp; a step where only some have one throws
/// (TorchSharp's optimizers would skip those parameters and keep a step count per parameter). Leave parameters that
/// get no gradient out of the optimizer.</para>
/// <para>Not thread-safe, like the OptGen optimizer: concurrent use throws <see cref="InvalidOperationException"/>.</para>
/// </remarks>
/// <typeparam name="TOptimizer">The OptGen optimizer: a catalog type, a lecture form or a user declaration.</typeparam>
public sealed class FusedOptimizer<TOptimizer> : OptimizerHelper, torch.optim.IMomentum, torch.optim.IBetas
    where TOptimizer : Optimizer
{
    private readonly Parameter[] _parameters;
    private readonly string[] _names;
    private readonly FusedOptions[] _options;
    private readonly GroupView[] _views;
    private readonly TensorTable _table;
    private int _busy; // 1 while a step or a state load runs (Enter)
    private volatile bool _disposed;
    private readonly ScalarType _dtype;

    /// <summary>One group over <paramref name="parameters"/>; see <see cref="FusedOptimizer.Create{TOptimizer}(IEnumerable{Parameter}, Func{ParameterLayout, TOptimizer})"/>.</summary>
    public FusedOptimizer(IEnumerable<Parameter> parameters, Func<ParameterLayout, TOptimizer> create)
        : this([new FusedParamGroup(parameters ?? throw new ArgumentNullException(nameof(parameters)))], create)
    {
    }

    /// <summary>One group over named <paramref name="parameters"/> (the names appear in error messages).</summary>
    public FusedOptimizer(IEnumerable<(string name, Parameter parameter)> parameters, Func<ParameterLayout, TOptimizer> create)
        : this([new FusedParamGroup(parameters ?? throw new ArgumentNullException(nameof(parameters)))], create)
    {
    }

    /// <summary>
    /// Parameter groups, each with its own hyperparameter values (<see cref="FusedParamGroup"/>): the OptGen optimizer
    /// from <paramref name="create"/> gives every group its values, then each group's own values replace them there.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// No groups or an empty group; a parameter that is not a contiguous CPU float32/float16/bfloat16 tensor, that has
    /// more than 2³¹ − 1 elements, that differs in dtype from the first, or that appears twice (the message names it); a
    /// group hyperparameter the rule does not have; or <paramref name="create"/> returned an optimizer for another layout.
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException">A group's hyperparameter value is out of its range.</exception>
    public FusedOptimizer(IEnumerable<FusedParamGroup> groups, Func<ParameterLayout, TOptimizer> create)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(create);
        FusedParamGroup[] list = groups.ToArray();
        if (list.Length == 0)
        {
            throw new ArgumentException("An optimizer needs at least one parameter group.", nameof(groups));
        }

        var parameters = new List<Parameter>();
        var names = new List<string>();
        var shapes = new List<int[]>[list.Length];
        var seen = new HashSet<nint>();
        ScalarType? dtype = null;
        for (int k = 0; k < list.Length; k++)
        {
            FusedParamGroup group = list[k] ?? throw new ArgumentException($"Parameter group {k} is null.", nameof(groups));
            if (group.Options.IsBound)
            {
                throw new ArgumentException($"Parameter group {k} already belongs to an optimizer.", nameof(groups));
            }

            shapes[k] = [];
            (string? Name, Parameter Parameter)[] members = group.Members;
            if (members.Length == 0)
            {
                throw new ArgumentException($"Parameter group {k} has no parameters.", nameof(groups));
            }

            for (int i = 0; i < members.Length; i++)
            {
                Parameter p = members[i].Parameter ?? throw new ArgumentException($"Parameter {i} of group {k} is null.", nameof(groups));
                string name = members[i].Name ?? $"parameter {parameters.Count} (group {k}, index {i}, shape [{string.Join(", ", p.shape)}])";
                ScalarType type = CheckTensor(p.Handle, name, "parameter");
                if (dtype is { } first && type != first)
                {
                    throw new ArgumentException($"Parameter '{name}' is {type}, the optimizer's first parameter {first}: every parameter must have one dtype.", nameof(groups));
                }

                dtype = type;
                if (!seen.Add(p.Handle))
                {
                    throw new ArgumentException($"Parameter '{name}' appears more than once.", nameof(groups));
                }

                long numel = p.numel();
                if (numel > int.MaxValue)
                {
                    throw new ArgumentException($"Parameter '{name}' has {numel} elements; at most {int.MaxValue} per tensor are supported.", nameof(groups));
                }

                // An empty tensor may still have a dimension past int (shape [3e9, 0]): refused here by its real shape,
                // not as a "negative dimension" after the cast below wrapped it.
                if (Array.Exists(p.shape, d => d > int.MaxValue))
                {
                    throw new ArgumentException($"Parameter '{name}' has shape [{string.Join(", ", p.shape)}]; at most {int.MaxValue} per dimension is supported.", nameof(groups));
                }

                parameters.Add(p);
                names.Add(name);
                // The shape, not only the length: rules with compact state or per-row reductions read it (Adafactor
                // factors matrices, Adam-mini's default block is a row). A 0-d tensor is a vector of one.
                shapes[k].Add(p.shape.Length == 0 ? [1] : p.shape.Select(d => (int)d).ToArray());
            }
        }

        ParameterLayout layout = ParameterLayout.FromShapes(shapes);
        TOptimizer optimizer = create(layout) ?? throw new ArgumentException("The factory returned null.", nameof(create));
        // The shapes too, not only the lengths: Adafactor over a transposed matrix would factor rows as columns.
        if (!optimizer.Layout.HasSameDimensions(layout))
        {
            throw new ArgumentException("The factory must build the optimizer for the layout it is given.", nameof(create));
        }

        Optimizer = optimizer;
        _parameters = [.. parameters];
        _names = [.. names];
        _dtype = dtype!.Value;
        _table = TensorTable.For(_dtype, _parameters.Length);

        // Each group's own values over the factory's, then the group is bound to OptGen's group k.
        _options = new FusedOptions[list.Length];
        foreach (FusedParamGroup group in list)
        {
            group.Options.CheckNames(optimizer);
        }

        for (int k = 0; k < list.Length; k++)
        {
            _options[k] = list[k].Options;
            _options[k].Bind(optimizer, optimizer.Groups[k]);
        }

        _defaults = _options[0];
        _parameter_groups = [.. list];
        _views = list.Select(g => GroupView.For(g, optimizer.Descriptor)).ToArray();
        int tensor = 0;
        foreach (FusedParamGroup group in list)
        {
            foreach (Parameter p in group.Parameters)
            {
                _state[p.Handle] = new FusedState(p, () => Optimizer, NameOf, tensor++);
            }
        }
    }

    /// <summary>The OptGen optimizer that steps: its hyperparameters, groups, schedules, state and checkpoints.</summary>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public TOptimizer Optimizer
    {
        get
        {
            ThrowIfDisposed();
            return field;
        }
    }

    /// <summary>
    /// Unscaling, global-norm clipping, non-finite skipping and threads for every <c>step()</c>; null (the default) for
    /// <see cref="StepOptions.Default"/>. With <c>MaxGradientNorm</c> set, a step does what
    /// <c>torch.nn.utils.clip_grad_norm_</c> followed by the step does, in the same pass.
    /// </summary>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public StepOptions? Options
    {
        get
        {
            ThrowIfDisposed();
            return field;
        }

        set
        {
            ThrowIfDisposed();
            field = value;
        }
    }

    /// <summary>What the last <c>step()</c> did: skipped or not, gradient norm, clip factor, step count.</summary>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public StepResult LastResult
    {
        get
        {
            ThrowIfDisposed();
            return field;
        }

        private set;
    }

    /// <summary>The parameters, in layout order (tensor j of <see cref="Optimizer"/>'s layout is parameter j).</summary>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public IReadOnlyList<Parameter> Parameters
    {
        get
        {
            ThrowIfDisposed();
            return _parameters;
        }
    }

    internal string NameOf(int tensor) => _names[tensor];

    /// <summary>
    /// The parameter groups as TorchSharp's schedulers see them, in order: each group's learning rates
    /// (<see cref="torch.optim.ILearningRateController"/>), its momentum (<see cref="torch.optim.IMomentum"/>: the rule's
    /// <c>Momentum</c>, else its <c>Beta1</c>) and, for rules with <c>Beta1</c> and <c>Beta2</c>, its
    /// <see cref="torch.optim.IBetas"/>, which <c>OneCycleLR</c> cycles in preference to momentum, as for TorchSharp's
    /// Adam. Values set through them go into OptGen's group and are used from the next step on.
    /// </summary>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public override IEnumerable<torch.optim.ILearningRateController> ParamGroups
    {
        get
        {
            ThrowIfDisposed();
            return _views;
        }
    }

    /// <summary>The groups as created (each <c>Options</c> reads and writes any hyperparameter by name), in order.</summary>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public IReadOnlyList<FusedParamGroup> Groups
    {
        get
        {
            ThrowIfDisposed();
            return Array.ConvertAll(_views, v => v.Group);
        }
    }

    /// <summary>
    /// The first group's momentum (the rule's <c>Momentum</c>, else <c>Beta1</c>: TorchSharp's optimizer-level value is
    /// its defaults, which here are the first group's); setting it sets every group's.
    /// </summary>
    /// <exception cref="NotSupportedException">The rule has neither <c>Momentum</c> nor <c>Beta1</c>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The value is outside the hyperparameter's range; nothing is set.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public double Momentum
    {
        get
        {
            ThrowIfDisposed();
            return _views[0].Momentum;
        }

        set
        {
            ThrowIfDisposed();
            string name = GroupView.MomentumOf(Optimizer.Descriptor) ?? throw GroupView.NoMomentum(Optimizer.Descriptor.Name);
            SetEveryGroup((name, value));
        }
    }

    /// <summary>The first group's (β₁, β₂) (TorchSharp's optimizer-level value is its defaults); setting them sets every group's.</summary>
    /// <exception cref="NotSupportedException">The rule does not have both <c>Beta1</c> and <c>Beta2</c>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value is outside its range; nothing is set.</exception>
    public (double, double) Betas
    {
        get => Betas0.Betas;
        set
        {
            _ = Betas0;
            SetEveryGroup(("Beta1", value.Item1), ("Beta2", value.Item2));
        }
    }

    private torch.optim.IBetas Betas0 => ThrowIfDisposed(_views[0]) as torch.optim.IBetas
        ?? throw new NotSupportedException($"The rule '{Optimizer.Descriptor.Name}' does not have both Beta1 and Beta2 hyperparameters. Nothing was changed.");

    /// <summary>Sets hyperparameters in every group, each value checked (in the first group) before any is set.</summary>
    private void SetEveryGroup(params (string Name, double Value)[] values)
    {
        _options[0].Set(values);
        for (int k = 1; k < _options.Length; k++)
        {
            _options[k].Set(values);
        }
    }

    /// <summary>
    /// One step over every parameter with <see cref="Options"/>: the closure (if any) runs first with gradients enabled
    /// and its loss is returned, as in TorchSharp.
    /// </summary>
    /// <exception cref="ArgumentException">A parameter or gradient is no longer a contiguous CPU tensor of the optimizer's dtype and length (the message names it). Nothing is written.</exception>
    /// <exception cref="InvalidOperationException">Some parameters have gradients and others do not, or a learning rate was set on a rule without one. Nothing is written.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed (checked before the closure runs).</exception>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        ThrowIfDisposed();
        Tensor? loss = null;
        if (closure is not null)
        {
            using (torch.enable_grad())
            {
                loss = closure();
            }
        }

        Step(Options);
        return loss!;
    }

    /// <summary>One step with <paramref name="options"/> (null: <see cref="StepOptions.Default"/>) instead of <see cref="Options"/>.</summary>
    /// <returns>Whether the step was taken, the gradient norm and the clip factor; also in <see cref="LastResult"/>.</returns>
    /// <exception cref="ArgumentException">A parameter or gradient is no longer a contiguous CPU tensor of the optimizer's dtype and length. Nothing is written.</exception>
    /// <exception cref="InvalidOperationException">Some parameters have gradients and others do not. Nothing is written.</exception>
    public StepResult Step(StepOptions? options)
    {
        using Busy busy = Enter(nameof(Step));
        int withGradient = 0;
        int firstMissing = -1;
        for (int j = 0; j < _parameters.Length; j++)
        {
            nint handle = _parameters[j].Handle;
            CheckTensor(handle, j, "parameter");
            nint grad = Native.THSTensor_grad(handle);
            if (grad == 0)
            {
                torch.CheckForErrors();
                firstMissing = firstMissing < 0 ? j : firstMissing;
                continue;
            }

            try
            {
                CheckTensor(grad, j, "gradient of parameter");
                _table.Aim(j, Native.THSTensor_data(handle), Native.THSTensor_data(grad), Optimizer.Layout.LengthOf(j));
                withGradient++;
            }
            finally
            {
                // The parameter keeps its gradient alive; this was only a second handle on it.
                Native.THSTensor_dispose(grad);
            }
        }

        if (withGradient == 0)
        {
            return LastResult = new StepResult(Skipped: true, FoundNonFinite: false, GradientNorm: double.NaN, ClipFactor: 1, Optimizer.StepCount);
        }

        if (firstMissing >= 0)
        {
            throw new InvalidOperationException(
                $"Parameter '{_names[firstMissing]}' has no gradient while others have one. OptGen steps every parameter with one step count; leave parameters that get no gradient out of the optimizer, or give them a zero gradient.");
        }

        PushLearningRates();
        StepResult result = _table.Step(Optimizer, options);
        PullLearningRates();
        return LastResult = result;
    }

    /// <summary>Sets every parameter's gradient to zero, as TorchSharp's optimizers do.</summary>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public override void zero_grad()
    {
        ThrowIfDisposed();
        base.zero_grad();
    }

    /// <summary>The parameters, in layout order.</summary>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public override IEnumerable<Parameter> parameters()
    {
        ThrowIfDisposed();
        return base.parameters();
    }

    /// <summary>Every group's options and every parameter's state (live views of the OptGen optimizer's).</summary>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public override StateDictionary state_dict()
    {
        ThrowIfDisposed();
        return base.state_dict();
    }

    /// <summary>Saves the state dictionary in TorchSharp's layout (<see cref="load_state_dict(BinaryReader)"/> reads it).</summary>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public new void save_state_dict(BinaryWriter writer)
    {
        ThrowIfDisposed();
        base.save_state_dict(writer);
    }

    /// <summary>Saves the state dictionary to the file <paramref name="location"/>.</summary>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public new void save_state_dict(string location)
    {
        ThrowIfDisposed();
        base.save_state_dict(location);
    }

    /// <summary>Not supported: the OptGen optimizer's layout is fixed when it is created. Create a new optimizer with every group.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public override void add_param_group(ParamGroup param_group) =>
        throw ThrowIfDisposed(new NotSupportedException("An OptGen optimizer's parameter groups are fixed when it is created; create a new FusedOptimizer with every group."));

    /// <summary>
    /// Loads a state dictionary from <c>state_dict()</c> of a <see cref="FusedOptimizer{TOptimizer}"/> over the same
    /// rule and parameter shapes (this one's or another's): every group's hyperparameters, the step count, carried host
    /// scalars and every state tensor. Everything is checked before anything is written.
    /// </summary>
    /// <exception cref="ArgumentException">The dictionary does not match this optimizer (the message says what). Nothing is written.</exception>
    public override void load_state_dict(StateDictionary state_dict)
    {
        ArgumentNullException.ThrowIfNull(state_dict);
        using Busy busy = Enter(nameof(load_state_dict));
        if (state_dict.Options.Count != _options.Length || state_dict.State.Count != _parameters.Length)
        {
            throw new ArgumentException($"The state dictionary has {state_dict.Options.Count} groups and {state_dict.State.Count} parameters; this optimizer has {_options.Length} and {_parameters.Length}.", nameof(state_dict));
        }

        var groups = new GroupRecord[_options.Length];
        for (int k = 0; k < groups.Length; k++)
        {
            groups[k] = state_dict.Options[k] is FusedOptions options
                ? options.Record()
                : throw new ArgumentException($"Group {k} of the state dictionary is a {state_dict.Options[k]?.GetType().Name ?? "null"}, not FusedOptions.", nameof(state_dict));
        }

        var states = new TensorRecord[_parameters.Length];
        for (int j = 0; j < states.Length; j++)
        {
            states[j] = state_dict.State[j] is FusedState state
                ? state.Record()
                : throw new ArgumentException($"State {j} of the state dictionary is a {state_dict.State[j]?.GetType().Name ?? "null"}, not FusedState.", nameof(state_dict));
        }

        Import(groups, states);
    }

    /// <summary>
    /// Loads what <c>save_state_dict</c> wrote (TorchSharp's layout: the type name, the group and state counts, each
    /// group's options, each parameter's state). The whole stream is read and checked before anything is written.
    /// </summary>
    /// <exception cref="InvalidDataException">The stream is not this optimizer's state (type, rule, counts, shapes), or is cut short. Nothing is written.</exception>
    public new void load_state_dict(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        using Busy busy = Enter(nameof(load_state_dict));
        try
        {
            string type = reader.ReadString();
            if (type != GetType().Name)
            {
                throw new InvalidDataException($"Mismatched optimizer type: expected '{GetType().Name}', but found '{type}'.");
            }

            int groups = Leb128.ReadCount(reader, "group", _options.Length);
            int states = Leb128.ReadCount(reader, "state", _parameters.Length);
            if (groups != _options.Length || states != _parameters.Length)
            {
                throw new InvalidDataException($"The saved state has {groups} groups and {states} parameters; this optimizer has {_options.Length} and {_parameters.Length}.");
            }

            var groupRecords = new GroupRecord[groups];
            for (int k = 0; k < groups; k++)
            {
                groupRecords[k] = GroupRecord.Read(reader, Optimizer);
            }

            var stateRecords = new TensorRecord[states];
            for (int j = 0; j < states; j++)
            {
                stateRecords[j] = TensorRecord.Read(reader, Optimizer, j, _parameters[j], _names[j]);
            }

            Import(groupRecords, stateRecords);
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentException)
        {
            throw new InvalidDataException($"The saved optimizer state does not load: {e.Message}", e);
        }
    }

    /// <summary>Loads what <c>save_state_dict(location)</c> wrote; see <see cref="load_state_dict(BinaryReader)"/>.</summary>
    public new void load_state_dict(string location)
    {
        using FileStream stream = File.OpenRead(location);
        using var reader = new BinaryReader(stream);
        load_state_dict(reader);
    }

    // The checkpoint calls claim this optimizer as a step and load_state_dict do: load_state_dict writes in several
    // calls on the OptGen optimizer, and a checkpoint saved between two of them mixed the old and the new state.

    /// <summary>Saves an OptGen checkpoint (<see cref="Optimizer.SaveCheckpoint(string)"/>: hyperparameters, step count, state; atomic).</summary>
    /// <exception cref="InvalidOperationException">Another step, load_state_dict or checkpoint call is running on this optimizer.</exception>
    public void SaveCheckpoint(string path)
    {
        using Busy busy = Enter(nameof(SaveCheckpoint));
        Optimizer.SaveCheckpoint(path);
    }

    /// <summary>Saves an OptGen checkpoint to <paramref name="stream"/>.</summary>
    /// <exception cref="InvalidOperationException">Another step, load_state_dict or checkpoint call is running on this optimizer.</exception>
    public void SaveCheckpoint(Stream stream)
    {
        using Busy busy = Enter(nameof(SaveCheckpoint));
        Optimizer.SaveCheckpoint(stream);
    }

    /// <summary>Loads an OptGen checkpoint (all or nothing, <see cref="CheckpointException"/> on a bad one); the groups' learning rates follow.</summary>
    /// <exception cref="InvalidOperationException">Another step, load_state_dict or checkpoint call is running on this optimizer.</exception>
    public void LoadCheckpoint(string path)
    {
        using Busy busy = Enter(nameof(LoadCheckpoint));
        Optimizer.LoadCheckpoint(path);
        PullLearningRates();
    }

    /// <summary>Loads an OptGen checkpoint from <paramref name="stream"/>; the groups' learning rates follow.</summary>
    /// <exception cref="InvalidOperationException">Another step, load_state_dict or checkpoint call is running on this optimizer.</exception>
    public void LoadCheckpoint(Stream stream)
    {
        using Busy busy = Enter(nameof(LoadCheckpoint));
        Optimizer.LoadCheckpoint(stream);
        PullLearningRates();
    }

    /// <summary>Checks every record against this optimizer, then writes them all (hyperparameters, scalars, state).</summary>
    internal void Import(GroupRecord[] groups, TensorRecord[] states)
    {
        long step = states[0].Step;
        for (int k = 0; k < groups.Length; k++)
        {
            groups[k].ThrowIfMismatched(Optimizer, k);
            if (groups[k].BatchSize != groups[0].BatchSize)
            {
                throw new ArgumentException($"Group {k} has BatchSize {groups[k].BatchSize}, group 0 {groups[0].BatchSize}: an OptGen optimizer has one batch size.");
            }
        }

        for (int j = 0; j < states.Length; j++)
        {
            states[j].ThrowIfMismatched(Optimizer, j, _names[j]);
            if (states[j].Step != step)
            {
                throw new ArgumentException($"Parameter '{_names[j]}' has step {states[j].Step}, parameter '{_names[0]}' step {step}: an OptGen optimizer has one step count.");
            }
        }

        double[][] host = groups.Select(g => g.HostState).ToArray();
        Optimizer.ThrowIfBadScalars(step, host);

        // Nothing below can fail: every value was checked above.
        for (int k = 0; k < groups.Length; k++)
        {
            groups[k].Apply(Optimizer, _options[k]);
        }

        Optimizer.ImportScalars(step, host);
        for (int j = 0; j < states.Length; j++)
        {
            Optimizer.ImportTensorState(j, states[j].Planes);
        }
    }

    /// <summary>
    /// Claims this optimizer for one step or state load: a step aims the shared tensor table at the tensors before the
    /// OptGen optimizer's own guard is taken, and a load writes hyperparameters, scalars and state in several calls,
    /// so a second call meanwhile is refused here, before it changes anything.
    /// </summary>
    /// <exception cref="InvalidOperationException">Another step or load is running on this optimizer.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    private Busy Enter(string operation)
    {
        ThrowIfDisposed();
        if (System.Threading.Interlocked.Exchange(ref _busy, 1) != 0)
        {
            throw new InvalidOperationException($"{operation} was called while another step, load_state_dict or checkpoint call is running on this optimizer; an optimizer is used by one thread at a time. Nothing was changed by this call.");
        }

        return new Busy(this);
    }

    /// <summary>
    /// Disposes this optimizer: every later public call throws <see cref="ObjectDisposedException"/>, as
    /// <c>OptGen.Gpu.GpuOptimizer</c>'s do (it stepped on before). The parameters and the OptGen optimizer are left as they
    /// are. Disposing again does nothing.
    /// </summary>
    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        base.Dispose(disposing);
    }

    /// <summary>Returns <paramref name="value"/> unless this object was disposed.</summary>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    private T ThrowIfDisposed<T>(T value)
    {
        ThrowIfDisposed();
        return value;
    }

    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>Releases <see cref="Enter"/>'s claim.</summary>
    private readonly struct Busy(FusedOptimizer<TOptimizer> owner) : IDisposable
    {
        public void Dispose() => System.Threading.Volatile.Write(ref owner._busy, 0);
    }

    /// <summary>Each group's TorchSharp-side learning rate (what schedulers set) into OptGen's group, where it changed.</summary>
    private void PushLearningRates()
    {
        for (int k = 0; k < _options.Length; k++)
        {
            _options[k].PushLearningRate();
        }
    }

    /// <summary>OptGen's learning rates (after its own schedules or a checkpoint) back into the groups' options.</summary>
    internal void PullLearningRates()
    {
        for (int k = 0; k < _options.Length; k++)
        {
            _options[k].PullLearningRate();
        }
    }

    private void CheckTensor(nint handle, int tensor, string what)
    {
        ScalarType type = CheckTensor(handle, _names[tensor], what);
        if (type != _dtype)
        {
            throw new ArgumentException($"The {what} '{_names[tensor]}' is {type}; the optimizer was created for {_dtype}.");
        }

        long numel = Native.THSTensor_numel(handle);
        if (numel != Optimizer.Layout.LengthOf(tensor))
        {
            throw new ArgumentException($"The {what} '{_names[tensor]}' has {numel} elements; the optimizer was created for {Optimizer.Layout.LengthOf(tensor)}.");
        }
    }

    /// <summary>The tensor's dtype, after checking that the step can use its memory as it is.</summary>
    private static ScalarType CheckTensor(nint handle, string name, string what)
    {
        var device = (DeviceType)Native.THSTensor_device_type(handle);
        if (device != DeviceType.CPU)
        {
            throw new ArgumentException($"The {what} '{name}' is on {device}; OptGen.TorchSharp steps CPU tensors only.");
        }

        var type = (ScalarType)Native.THSTensor_type(handle);
        if (type is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16))
        {
            throw new ArgumentException($"The {what} '{name}' is {type}; OptGen.TorchSharp steps Float32, Float16 and BFloat16 tensors.");
        }

        if (!Native.THSTensor_is_contiguous(handle))
        {
            throw new ArgumentException($"The {what} '{name}' is not contiguous; the fused step needs each tensor's elements back to back in their natural order.");
        }

        return type;
    }
}
