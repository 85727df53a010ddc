using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace OptGen.Generator
{
    /// <summary>The kinds of syntax node of the expression language.</summary>
    internal enum AstKind
    {
        Number,
        Name,
        Negate,
        Binary,
        Call,
        Conditional,
    }

    /// <summary>
    /// A syntax node of an update expression. <see cref="Start"/> and <see cref="Length"/> are offsets into the
    /// expression string (not the source file); the caller maps them into the string literal. Syntax nodes live only
    /// inside the parse phase and never enter the incremental pipeline's model.
    /// </summary>
    internal sealed class Ast
    {
        public Ast(AstKind kind, int start, int length, string text = "", double value = 0, params Ast[] args)
        {
            Kind = kind;
            Start = start;
            Length = length;
            Text = text;
            Value = value;
            Args = args;
            foreach (Ast arg in args)
            {
                Height = System.Math.Max(Height, arg.Height + 1);
            }
        }

        /// <summary>The number of nodes on the longest path down from this one (1 for a leaf).</summary>
        public int Height { get; } = 1;

        public AstKind Kind { get; }

        public int Start { get; }

        public int Length { get; }

        /// <summary>The name, function name or operator (<c>+</c>, <c>&lt;=</c>, …).</summary>
        public string Text { get; }

        public double Value { get; }

        public Ast[] Args { get; }

        /// <summary>Where the operator or function name is, for binary nodes and calls.</summary>
        public int OperatorStart { get; init; }

        public int OperatorLength { get; init; } = 1;
    }

    /// <summary>A parsed update statement: <c>let name = value</c> or <c>name = value</c>.</summary>
    internal sealed record AstStatement(string Target, int TargetStart, bool IsLet, Ast Value);

    /// <summary>A syntax error: where it is inside the expression string and what was expected.</summary>
    /// <param name="TooComplex">The text is well formed but nests or chains past the parser's limits.</param>
    internal sealed record ExpressionError(int Start, int Length, string Message, bool TooComplex = false);

    internal enum TokenKind
    {
        End,
        Number,
        Identifier,
        Operator,
        Invalid,
    }

    internal readonly struct Token
    {
        public Token(TokenKind kind, string text, int start, double value = 0)
        {
            Kind = kind;
            Text = text;
            Start = start;
            Value = value;
        }

        public TokenKind Kind { get; }

        public string Text { get; }

        public int Start { get; }

        public double Value { get; }

        public int Length => Kind == TokenKind.End ? 0 : Text.Length;

        public string Describe() => Kind switch
        {
            TokenKind.End => "the end of the expression",
            TokenKind.Number => $"the number '{Text}'",
            TokenKind.Identifier => $"'{Text}'",
            _ => $"'{Text}'",
        };
    }

    /// <summary>
    /// The tokenizer and precedence-climbing parser of the expression language (docs/expressions.md). Grammar:
    /// <code>
    /// statement   = ["let"] name "=" expression [";"]
    /// expression  = binary ["?" expression ":" expression]
    /// binary      = unary { operator unary }        (precedence: comparisons &lt; + − &lt; * /; comparisons do not chain)
    /// unary       = "-" unary | primary
    /// primary     = number | name | name "(" [expression {"," expression}] ")" | "(" expression ")"
    /// </code>
    /// Identifiers are a letter followed by letters and digits. The first error stops the parse.
    /// <para>
    /// The parse is linear in the length of the text and its recursion is bounded, so no text can exhaust the stack
    /// of the compiler or of a later pass (the binder, the lowering, the printers and the records' equality all
    /// walk the tree recursively): parentheses, calls, unary minus and conditionals nest at most
    /// <see cref="MaximumDepth"/> levels, and no path down the tree, a chain of binary operators included, is
    /// longer than <see cref="MaximumHeight"/> nodes. Past either limit the parse stops with an error marked
    /// <see cref="ExpressionError.TooComplex"/> (OPTG0112).
    /// </para>
    /// </summary>
    internal sealed class ExpressionParser
    {
        /// <summary>The deepest nesting of parentheses, calls, unary minus and conditionals.</summary>
        internal const int MaximumDepth = 64;

        /// <summary>The longest path down a statement's syntax tree: a chain of 'a + b + c …' counts one per operator.</summary>
        internal const int MaximumHeight = 200;

        private const int ComparisonPrecedence = 1;
        private readonly List<Token> _tokens;
        private int _position;
        private int _depth;

        private ExpressionParser(string text, out ExpressionError? error)
        {
            _tokens = Tokenize(text, out error);
        }

        /// <summary>Parses a whole statement.</summary>
        public static AstStatement? ParseStatement(string text, out ExpressionError? error)
        {
            var parser = new ExpressionParser(text, out error);
            if (error is not null)
            {
                return null;
            }

            try
            {
                return parser.Statement();
            }
            catch (SyntaxException e)
            {
                error = e.Error;
                return null;
            }
        }

        /// <summary>Parses a whole expression.</summary>
        public static Ast? ParseExpression(string text, out ExpressionError? error)
        {
            var parser = new ExpressionParser(text, out error);
            if (error is not null)
            {
                return null;
            }

            try
            {
                Ast value = parser.Expression();
                parser.ExpectEnd();
                return value;
            }
            catch (SyntaxException e)
            {
                error = e.Error;
                return null;
            }
        }

        private Token Current => _tokens[_position];

        private AstStatement Statement()
        {
            bool isLet = Current.Kind == TokenKind.Identifier && Current.Text == "let"
                && _tokens[_position + 1].Kind == TokenKind.Identifier;
            if (isLet)
            {
                _position++;
            }

            Token target = Current;
            if (target.Kind != TokenKind.Identifier)
            {
                throw Fail(target, $"Expected the name of the value to assign ('p', a state or a local), but found {target.Describe()}");
            }

            _position++;
            if (!IsOperator("="))
            {
                throw Fail(Current, $"Expected '=' after '{target.Text}', but found {Current.Describe()}");
            }

            _position++;
            Ast value = Expression();
            if (IsOperator(";"))
            {
                _position++;
            }

            ExpectEnd();
            return new AstStatement(target.Text, target.Start, isLet, value);
        }

        private void ExpectEnd()
        {
            if (Current.Kind != TokenKind.End)
            {
                throw Fail(Current, $"Expected an operator or the end of the expression, but found {Current.Describe()}");
            }
        }

        private Ast Expression()
        {
            Enter();
            try
            {
                return ExpressionCore();
            }
            finally
            {
                _depth--;
            }
        }

        private Ast ExpressionCore()
        {
            int start = Current.Start;
            Ast condition = Binary(ComparisonPrecedence);
            if (!IsOperator("?"))
            {
                return condition;
            }

            _position++;
            Ast whenTrue = Expression();
            if (!IsOperator(":"))
            {
                throw Fail(Current, $"Expected ':' of the conditional '? :', but found {Current.Describe()}");
            }

            _position++;
            Ast whenFalse = Expression();
            return Checked(new Ast(AstKind.Conditional, start, PreviousEnd - start, args: new[] { condition, whenTrue, whenFalse }), condition.Start, 1);
        }

        /// <summary>Precedence climbing over the left-associative binary operators.</summary>
        private Ast Binary(int minimum)
        {
            int start = Current.Start;
            Ast left = Unary();
            while (true)
            {
                Token op = Current;
                int precedence = op.Kind == TokenKind.Operator ? Precedence(op.Text) : 0;
                if (precedence < minimum || precedence == 0)
                {
                    return left;
                }

                _position++;
                Ast right = Binary(precedence + 1);
                left = Checked(
                    new Ast(AstKind.Binary, start, PreviousEnd - start, op.Text, args: new[] { left, right })
                    {
                        OperatorStart = op.Start,
                        OperatorLength = op.Length,
                    },
                    op.Start,
                    op.Length);
                if (precedence == ComparisonPrecedence && Current.Kind == TokenKind.Operator && Precedence(Current.Text) == ComparisonPrecedence)
                {
                    throw Fail(Current, "Comparisons cannot be chained; compare two numbers and select with '? :'");
                }
            }
        }

        private Ast Unary()
        {
            Enter();
            try
            {
                return UnaryCore();
            }
            finally
            {
                _depth--;
            }
        }

        private Ast UnaryCore()
        {
            if (IsOperator("-"))
            {
                Token minus = Current;
                _position++;
                Ast operand = Unary();
                return new Ast(AstKind.Negate, minus.Start, PreviousEnd - minus.Start, "-", args: new[] { operand })
                {
                    OperatorStart = minus.Start,
                };
            }

            return Primary();
        }

        private Ast Primary()
        {
            Token token = Current;
            switch (token.Kind)
            {
                case TokenKind.Number:
                    _position++;
                    return new Ast(AstKind.Number, token.Start, token.Length, token.Text, token.Value);
                case TokenKind.Identifier:
                    _position++;
                    if (!IsOperator("("))
                    {
                        return new Ast(AstKind.Name, token.Start, token.Length, token.Text);
                    }

                    _position++;
                    var args = new List<Ast>();
                    if (!IsOperator(")"))
                    {
                        while (true)
                        {
                            args.Add(Expression());
                            if (IsOperator(","))
                            {
                                _position++;
                                continue;
                            }

                            break;
                        }
                    }

                    if (!IsOperator(")"))
                    {
                        throw Fail(Current, $"Expected ',' or ')' in the arguments of '{token.Text}', but found {Current.Describe()}");
                    }

                    Token close = Current;
                    _position++;
                    return new Ast(AstKind.Call, token.Start, close.Start + 1 - token.Start, token.Text, args: args.ToArray())
                    {
                        OperatorStart = token.Start,
                        OperatorLength = token.Length,
                    };
                case TokenKind.Operator when token.Text == "(":
                    _position++;
                    Ast inner = Expression();
                    if (!IsOperator(")"))
                    {
                        throw Fail(Current, $"Expected ')', but found {Current.Describe()}");
                    }

                    _position++;
                    return inner;
                default:
                    throw Fail(token, $"Expected a number, a name, '(' or '-', but found {token.Describe()}");
            }
        }

        /// <summary>One level deeper into the recursive descent; past <see cref="MaximumDepth"/> the parse stops.</summary>
        private void Enter()
        {
            if (++_depth > MaximumDepth)
            {
                _depth--;
                throw new SyntaxException(new ExpressionError(Current.Start, Current.Length,
                    $"it nests parentheses, calls, '-' or '? :' deeper than {MaximumDepth} levels", TooComplex: true));
            }
        }

        /// <summary>The node, unless the path down from it is longer than <see cref="MaximumHeight"/> (then the parse stops at the operator).</summary>
        private static Ast Checked(Ast node, int operatorStart, int operatorLength) =>
            node.Height <= MaximumHeight
                ? node
                : throw new SyntaxException(new ExpressionError(operatorStart, operatorLength,
                    $"a chain of operators here is more than {MaximumHeight} operations long", TooComplex: true));

        private bool IsOperator(string text) => Current.Kind == TokenKind.Operator && Current.Text == text;

        /// <summary>
        /// Where the last token read ends: an operation's span runs to it, so that it covers the parentheses around
        /// its operands (<c>(a) * b</c>, not <c>a) * b</c>), which a parenthesized operand's own span leaves out.
        /// </summary>
        private int PreviousEnd => _tokens[_position - 1].Start + _tokens[_position - 1].Length;

        private static int Precedence(string op) => op switch
        {
            "<" or "<=" or ">" or ">=" or "==" or "!=" => ComparisonPrecedence,
            "+" or "-" => 2,
            "*" or "/" => 3,
            _ => 0,
        };

        private static SyntaxException Fail(Token at, string message) =>
            new(new ExpressionError(at.Start, at.Length, message));

        private static List<Token> Tokenize(string text, out ExpressionError? error)
        {
            error = null;
            var tokens = new List<Token>();
            int i = 0;
            while (i < text.Length)
            {
                char c = text[i];
                if (char.IsWhiteSpace(c))
                {
                    i++;
                    continue;
                }

                int start = i;
                if (IsLetter(c))
                {
                    while (i < text.Length && (IsLetter(text[i]) || IsDigit(text[i])))
                    {
                        i++;
                    }

                    // The scoped reductions (row_mean, col_sum, block_norm, …) are the only names with '_'.
                    if (i < text.Length && text[i] == '_' && Ir.ReductionDecl.IsScopedPrefix(text.Substring(start, i - start)))
                    {
                        int end = i + 1;
                        while (end < text.Length && (IsLetter(text[end]) || IsDigit(text[end])))
                        {
                            end++;
                        }

                        if (Ir.ReductionDecl.TryKind(text.Substring(start, end - start), out _, out _))
                        {
                            i = end;
                        }
                    }

                    if (i < text.Length && text[i] == '_')
                    {
                        error = new ExpressionError(i, 1, "Names are letters and digits only; '_' is not allowed");
                        return tokens;
                    }

                    tokens.Add(new Token(TokenKind.Identifier, text.Substring(start, i - start), start));
                    continue;
                }

                if (IsDigit(c) || (c == '.' && i + 1 < text.Length && IsDigit(text[i + 1])))
                {
                    while (i < text.Length && IsDigit(text[i]))
                    {
                        i++;
                    }

                    if (i < text.Length && text[i] == '.')
                    {
                        i++;
                        while (i < text.Length && IsDigit(text[i]))
                        {
                            i++;
                        }
                    }

                    if (i < text.Length && (text[i] == 'e' || text[i] == 'E'))
                    {
                        i++;
                        if (i < text.Length && (text[i] == '+' || text[i] == '-'))
                        {
                            i++;
                        }

                        if (i >= text.Length || !IsDigit(text[i]))
                        {
                            error = new ExpressionError(start, i - start, $"The number '{text.Substring(start, i - start)}' has no exponent digits");
                            return tokens;
                        }

                        while (i < text.Length && IsDigit(text[i]))
                        {
                            i++;
                        }
                    }

                    if (i < text.Length && (IsLetter(text[i]) || text[i] == '.' || text[i] == '_'))
                    {
                        while (i < text.Length && (IsLetter(text[i]) || IsDigit(text[i]) || text[i] == '.' || text[i] == '_'))
                        {
                            i++;
                        }

                        error = new ExpressionError(start, i - start, $"'{text.Substring(start, i - start)}' is not a number");
                        return tokens;
                    }

                    string literal = text.Substring(start, i - start);
                    double value = double.Parse(literal, NumberStyles.Float, CultureInfo.InvariantCulture);
                    if (double.IsInfinity(value))
                    {
                        error = new ExpressionError(start, literal.Length, $"The number '{literal}' is too large");
                        return tokens;
                    }

                    // 1e-400 (or 0.000…1 with 400 zeros) is 0 in double, though its digits are not: refused like 1e400.
                    if (value == 0 && literal.TakeWhile(ch => ch is not ('e' or 'E')).Any(ch => ch is >= '1' and <= '9'))
                    {
                        error = new ExpressionError(start, literal.Length, $"The number '{literal}' is too small: it is 0 even in double (write 0, or a magnitude of at least 4.9E-324)");
                        return tokens;
                    }

                    tokens.Add(new Token(TokenKind.Number, literal, start, value));
                    continue;
                }

                string two = i + 1 < text.Length ? text.Substring(i, 2) : string.Empty;
                if (two is "<=" or ">=" or "==" or "!=")
                {
                    tokens.Add(new Token(TokenKind.Operator, two, start));
                    i += 2;
                    continue;
                }

                if ("+-*/(),?:<>=;".IndexOf(c) >= 0)
                {
                    tokens.Add(new Token(TokenKind.Operator, c.ToString(), start));
                    i++;
                    continue;
                }

                int length = char.IsHighSurrogate(c) && i + 1 < text.Length ? 2 : 1;
                error = new ExpressionError(start, length, $"Unexpected character '{text.Substring(start, length)}'");
                return tokens;
            }

            tokens.Add(new Token(TokenKind.End, string.Empty, text.Length));
            tokens.Add(new Token(TokenKind.End, string.Empty, text.Length));
            return tokens;
        }

        /// <summary>An ASCII letter: how identifiers start (also the expression rules' check of symbol names).</summary>
        internal static bool IsLetter(char c) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

        private static bool IsDigit(char c) => c >= '0' && c <= '9';

        /// <summary>Unwinds the recursive descent at the first error (caught in the two entry points only).</summary>
        private sealed class SyntaxException : System.Exception
        {
            public SyntaxException(ExpressionError error)
                : base(error.Message) => Error = error;

            public ExpressionError Error { get; }
        }
    }
}
